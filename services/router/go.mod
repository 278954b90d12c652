module github.com/shoaldb/shoal/services/router

go 1.26

replace (
	github.com/shoaldb/shoal/pkg => ../../pkg
	github.com/shoaldb/shoal/proto => ../../proto
)
