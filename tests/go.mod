module github.com/shoaldb/shoal/tests

go 1.26

replace (
	github.com/shoaldb/shoal/pkg => ../pkg
	github.com/shoaldb/shoal/proto => ../proto
	github.com/shoaldb/shoal/services/meta => ../services/meta
	github.com/shoaldb/shoal/services/router => ../services/router
	github.com/shoaldb/shoal/services/storage => ../services/storage
)
