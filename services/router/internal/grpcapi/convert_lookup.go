package grpcapi

import (
	"github.com/qdrant/go-client/qdrant"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// lookupOf converts a LookupLocation (nil: none) with its shard key
// selector.
func lookupOf(l *qdrant.LookupLocation) (*service.LookupLocation, error) {
	if l == nil {
		return nil, nil
	}
	ks, err := keySelector(l.GetShardKeySelector())
	if err != nil {
		return nil, err
	}
	if l.GetCollectionName() == "" {
		return nil, apierr.Invalid("lookup_from.collection_name", "must not be empty")
	}
	return &service.LookupLocation{Collection: l.GetCollectionName(), Vector: l.GetVectorName(), ShardKey: ks}, nil
}

// withLookupOf converts a WithLookup (nil: none): payload by default,
// vectors only when asked.
func withLookupOf(w *qdrant.WithLookup) *service.WithLookup {
	if w == nil {
		return nil
	}
	return &service.WithLookup{Collection: w.GetCollection(), Read: readOptions(w.WithPayload, w.WithVectors, true)}
}
