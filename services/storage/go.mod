module github.com/shoaldb/shoal/services/storage

go 1.26

replace (
	github.com/shoaldb/shoal/pkg => ../../pkg
	github.com/shoaldb/shoal/proto => ../../proto
)
