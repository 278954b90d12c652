package snapshots

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/shoaldb/shoal/pkg/cluster"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Records keeps snapshot records in etcd: collection snapshots under
// cluster.CollectionSnapshotKey, full snapshots under
// cluster.FullSnapshotKey. A record exists once its snapshot is complete.
type Records struct {
	KV clientv3.KV
}

// put creates key with v; false if the key exists.
func (r Records) put(ctx context.Context, key string, v any) (bool, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return false, fmt.Errorf("encode snapshot record: %w", err)
	}
	resp, err := r.KV.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(raw))).Commit()
	if err != nil {
		return false, fmt.Errorf("store snapshot record %s: %w", key, err)
	}
	return resp.Succeeded, nil
}

func list[T any](ctx context.Context, kv clientv3.KV, prefix string) ([]T, error) {
	resp, err := kv.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, fmt.Errorf("list snapshot records: %w", err)
	}
	out := make([]T, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var v T
		if err := json.Unmarshal(kv.Value, &v); err != nil {
			return nil, fmt.Errorf("decode snapshot record %s: %w", kv.Key, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func get[T any](ctx context.Context, kv clientv3.KV, key string) (T, bool, error) {
	var v T
	resp, err := kv.Get(ctx, key)
	if err != nil {
		return v, false, fmt.Errorf("read snapshot record %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return v, false, nil
	}
	if err := json.Unmarshal(resp.Kvs[0].Value, &v); err != nil {
		return v, false, fmt.Errorf("decode snapshot record %s: %w", key, err)
	}
	return v, true, nil
}

func (r Records) del(ctx context.Context, key string) (bool, error) {
	resp, err := r.KV.Delete(ctx, key)
	if err != nil {
		return false, fmt.Errorf("delete snapshot record %s: %w", key, err)
	}
	return resp.Deleted > 0, nil
}

// PutCollection stores a new collection snapshot record; false if one of
// that name exists.
func (r Records) PutCollection(ctx context.Context, rec CollectionRecord) (bool, error) {
	return r.put(ctx, cluster.CollectionSnapshotKey(rec.Manifest.Collection, rec.Name), rec)
}

// ListCollection returns collection's snapshot records sorted by name.
func (r Records) ListCollection(ctx context.Context, collection string) ([]CollectionRecord, error) {
	out, err := list[CollectionRecord](ctx, r.KV, cluster.CollectionSnapshotPrefix(collection))
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// GetCollection returns one collection snapshot record.
func (r Records) GetCollection(ctx context.Context, collection, name string) (CollectionRecord, bool, error) {
	return get[CollectionRecord](ctx, r.KV, cluster.CollectionSnapshotKey(collection, name))
}

// DeleteCollection removes a collection snapshot record; false if there
// was none.
func (r Records) DeleteCollection(ctx context.Context, collection, name string) (bool, error) {
	return r.del(ctx, cluster.CollectionSnapshotKey(collection, name))
}

// PutFull stores a new full snapshot record; false if one of that name
// exists.
func (r Records) PutFull(ctx context.Context, rec FullRecord) (bool, error) {
	return r.put(ctx, cluster.FullSnapshotKey(rec.Name), rec)
}

// ListFull returns the full snapshot records sorted by name.
func (r Records) ListFull(ctx context.Context) ([]FullRecord, error) {
	out, err := list[FullRecord](ctx, r.KV, cluster.FullSnapshotsPrefix)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// GetFull returns one full snapshot record.
func (r Records) GetFull(ctx context.Context, name string) (FullRecord, bool, error) {
	return get[FullRecord](ctx, r.KV, cluster.FullSnapshotKey(name))
}

// DeleteFull removes a full snapshot record; false if there was none.
func (r Records) DeleteFull(ctx context.Context, name string) (bool, error) {
	return r.del(ctx, cluster.FullSnapshotKey(name))
}
