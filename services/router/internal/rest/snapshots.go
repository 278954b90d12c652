package rest

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// Snapshot operations may copy gigabytes: they get a long default
// deadline, and with wait=false they run in the background under
// BackgroundSnapshotTimeout.
const (
	DefaultSnapshotTimeout    = 30 * time.Minute
	BackgroundSnapshotTimeout = 2 * time.Hour
)

// snapshotRoutes registers Qdrant's snapshot endpoints.
func (s *Server) snapshotRoutes() {
	m := s.mux
	m.HandleFunc("GET /collections/{name}/snapshots", s.api(s.listSnapshots))
	m.HandleFunc("POST /collections/{name}/snapshots", s.accepting(s.createSnapshot))
	m.HandleFunc("GET /collections/{name}/snapshots/{snapshot}", s.download(func(r *http.Request) (service.SnapshotDescription, func(io.Writer) error, error) {
		return s.svc.OpenSnapshot(r.Context(), r.PathValue("name"), r.PathValue("snapshot"))
	}))
	m.HandleFunc("DELETE /collections/{name}/snapshots/{snapshot}", s.accepting(s.deleteSnapshot))
	m.HandleFunc("PUT /collections/{name}/snapshots/recover", s.recoverFromLocation(false))
	m.HandleFunc("POST /collections/{name}/snapshots/upload", s.recoverFromUpload(false))

	m.HandleFunc("GET /snapshots", s.api(s.listFullSnapshots))
	m.HandleFunc("POST /snapshots", s.accepting(s.createFullSnapshot))
	m.HandleFunc("GET /snapshots/{snapshot}", s.download(func(r *http.Request) (service.SnapshotDescription, func(io.Writer) error, error) {
		return s.svc.OpenFullSnapshot(r.Context(), r.PathValue("snapshot"))
	}))
	m.HandleFunc("DELETE /snapshots/{snapshot}", s.accepting(s.deleteFullSnapshot))

	m.HandleFunc("GET /collections/{name}/shards/{shard}/snapshot", s.streamShardSnapshot)
	m.HandleFunc("GET /collections/{name}/shards/{shard}/snapshots", s.snapshotAPI(s.listShardSnapshots))
	m.HandleFunc("POST /collections/{name}/shards/{shard}/snapshots", s.accepting(s.createShardSnapshot))
	m.HandleFunc("GET /collections/{name}/shards/{shard}/snapshots/{snapshot}", s.download(func(r *http.Request) (service.SnapshotDescription, func(io.Writer) error, error) {
		shard, err := shardParam(r)
		if err != nil {
			return service.SnapshotDescription{}, nil, err
		}
		return s.svc.OpenShardSnapshot(r.Context(), r.PathValue("name"), shard, r.PathValue("snapshot"))
	}))
	m.HandleFunc("DELETE /collections/{name}/shards/{shard}/snapshots/{snapshot}", s.accepting(s.deleteShardSnapshot))
	m.HandleFunc("PUT /collections/{name}/shards/{shard}/snapshots/recover", s.recoverFromLocation(true))
	m.HandleFunc("POST /collections/{name}/shards/{shard}/snapshots/upload", s.recoverFromUpload(true))
}

// snapshotJSON is Qdrant's SnapshotDescription.
func snapshotJSON(d service.SnapshotDescription) map[string]any {
	return map[string]any{
		"name":          d.Name,
		"creation_time": d.Created.UTC().Format("2006-01-02T15:04:05"),
		"size":          d.Size,
		"checksum":      d.Checksum,
	}
}

func snapshotsJSON(list []service.SnapshotDescription) []map[string]any {
	out := make([]map[string]any, 0, len(list))
	for _, d := range list {
		out = append(out, snapshotJSON(d))
	}
	return out
}

// shardParam decodes the {shard} path parameter.
func shardParam(r *http.Request) (uint32, error) {
	v, err := strconv.ParseUint(r.PathValue("shard"), 10, 32)
	if err != nil {
		return 0, apierr.New(apierr.BadRequest, "Path deserialize error: shard_id: invalid digit found in string %q", r.PathValue("shard"))
	}
	return uint32(v), nil
}

// waitParam decodes `wait`; snapshot operations wait unless wait=false.
func waitParam(r *http.Request) (bool, error) {
	if r.URL.Query().Get("wait") == "" {
		return true, nil
	}
	return queryBool(r, "wait")
}

// snapshotOp is a snapshot operation; it runs with ctx, which outlives the
// request when the client does not wait.
type snapshotOp func(ctx context.Context, r *http.Request) (any, error)

// accepting runs op and answers its result, or with wait=false answers
// 202 {"status": "accepted"} at once and runs op in the background
// (failures are logged).
func (s *Server) accepting(op snapshotOp) http.HandlerFunc {
	return s.snapshotAPI(func(r *http.Request, _ []byte) (any, error) {
		wait, err := waitParam(r)
		if err != nil {
			return nil, err
		}
		if wait {
			return op(r.Context(), r)
		}
		return nil, s.background(r, func(ctx context.Context) error {
			_, err := op(ctx, r)
			return err
		})
	})
}

// errAccepted makes a handler answer Qdrant's 202 (see finish); see background.
type errAccepted struct{}

func (errAccepted) Error() string { return "accepted" }

// background starts run detached from the request and returns
// errAccepted, which finish turns into Qdrant's 202. The operation is
// bounded by BackgroundSnapshotTimeout (and ends with the process); its
// failure is logged, since nobody waits for it.
func (s *Server) background(r *http.Request, run func(ctx context.Context) error) error {
	method, path := r.Method, r.URL.Path
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), BackgroundSnapshotTimeout)
		defer cancel()
		if err := run(ctx); err != nil {
			s.opt.Log.Warn().Err(err).Str("method", method).Str("path", path).Msg("background snapshot operation failed")
		}
	}()
	return errAccepted{}
}

func (s *Server) listSnapshots(r *http.Request, _ []byte) (any, error) {
	list, err := s.svc.ListSnapshots(r.Context(), r.PathValue("name"))
	return snapshotsJSON(list), err
}

func (s *Server) createSnapshot(ctx context.Context, r *http.Request) (any, error) {
	d, err := s.svc.CreateSnapshot(ctx, r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	return snapshotJSON(d), nil
}

func (s *Server) deleteSnapshot(ctx context.Context, r *http.Request) (any, error) {
	if err := s.svc.DeleteSnapshot(ctx, r.PathValue("name"), r.PathValue("snapshot")); err != nil {
		return nil, err
	}
	return true, nil
}

func (s *Server) listFullSnapshots(r *http.Request, _ []byte) (any, error) {
	list, err := s.svc.ListFullSnapshots(r.Context())
	return snapshotsJSON(list), err
}

func (s *Server) createFullSnapshot(ctx context.Context, _ *http.Request) (any, error) {
	d, err := s.svc.CreateFullSnapshot(ctx)
	if err != nil {
		return nil, err
	}
	return snapshotJSON(d), nil
}

func (s *Server) deleteFullSnapshot(ctx context.Context, r *http.Request) (any, error) {
	if err := s.svc.DeleteFullSnapshot(ctx, r.PathValue("snapshot")); err != nil {
		return nil, err
	}
	return true, nil
}

func (s *Server) listShardSnapshots(r *http.Request, _ []byte) (any, error) {
	shard, err := shardParam(r)
	if err != nil {
		return nil, err
	}
	list, err := s.svc.ListShardSnapshots(r.Context(), r.PathValue("name"), shard)
	return snapshotsJSON(list), err
}

func (s *Server) createShardSnapshot(ctx context.Context, r *http.Request) (any, error) {
	shard, err := shardParam(r)
	if err != nil {
		return nil, err
	}
	d, err := s.svc.CreateShardSnapshot(ctx, r.PathValue("name"), shard)
	if err != nil {
		return nil, err
	}
	return snapshotJSON(d), nil
}

func (s *Server) deleteShardSnapshot(ctx context.Context, r *http.Request) (any, error) {
	shard, err := shardParam(r)
	if err != nil {
		return nil, err
	}
	if err := s.svc.DeleteShardSnapshot(ctx, r.PathValue("name"), shard, r.PathValue("snapshot")); err != nil {
		return nil, err
	}
	return true, nil
}

// download answers a snapshot's bytes (application/octet-stream, with
// Content-Length), or an API error if it cannot start. An error once
// bytes are sent can only cut the response short (the length tells).
func (s *Server) download(open func(r *http.Request) (service.SnapshotDescription, func(io.Writer) error, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, cancel := context.WithTimeout(r.Context(), DefaultSnapshotTimeout)
		defer cancel()
		r = r.WithContext(ctx)
		d, write, err := open(r)
		if err != nil {
			writeError(w, start, err, s.opt.Log, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Length", strconv.FormatUint(d.Size, 10))
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": d.Name}))
		if err := write(w); err != nil {
			s.opt.Log.Warn().Err(err).Str("path", r.URL.Path).Msg("snapshot download cut short")
		}
	}
}

// streamShardSnapshot takes a shard snapshot and streams it (no length:
// it is known once the snapshot exists, just before streaming).
func (s *Server) streamShardSnapshot(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(r.Context(), DefaultSnapshotTimeout)
	defer cancel()
	r = r.WithContext(ctx)
	shard, err := shardParam(r)
	if err != nil {
		writeError(w, start, err, s.opt.Log, r)
		return
	}
	started := false
	err = s.svc.StreamShardSnapshot(ctx, r.PathValue("name"), shard, func(d service.SnapshotDescription) io.Writer {
		started = true
		h := w.Header()
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Length", strconv.FormatUint(d.Size, 10))
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": d.Name}))
		return w
	})
	if err != nil {
		if !started {
			writeError(w, start, err, s.opt.Log, r)
			return
		}
		s.opt.Log.Warn().Err(err).Str("path", r.URL.Path).Msg("shard snapshot stream cut short")
	}
}

// priorityParam checks Qdrant's SnapshotPriority. Every value restores
// the snapshot into every replica (docs/COMPATIBILITY.md).
func priorityParam(v string) error {
	switch v {
	case "", "no_sync", "snapshot", "replica":
		return nil
	}
	return apierr.New(apierr.BadRequest, "Query deserialize error: priority: unknown variant `%s`, expected one of `no_sync`, `snapshot`, `replica`", v)
}

// recoverFromLocation is PUT .../snapshots/recover: the body's location
// (http(s) or file inside storage.snapshots_path) is fetched in full,
// then recovered like an upload.
func (s *Server) recoverFromLocation(shardLevel bool) http.HandlerFunc {
	return s.recovering(func(r *http.Request, body []byte) (service.SpooledSnapshot, string, error) {
		f, err := object(body, false, "location", "priority", "checksum", "api_key")
		if err != nil {
			return service.SpooledSnapshot{}, "", err
		}
		loc, err := f.stringField("location")
		if err != nil {
			return service.SpooledSnapshot{}, "", err
		}
		if loc == nil {
			return service.SpooledSnapshot{}, "", apierr.Format("Format error in JSON body: missing field `location`")
		}
		var opt [3]string
		for i, name := range []string{"priority", "checksum", "api_key"} {
			if isNull(f[name]) {
				continue
			}
			v, err := f.stringField(name)
			if err != nil {
				return service.SpooledSnapshot{}, "", apierr.Format("Format error in JSON body: %v", err)
			}
			if v != nil {
				opt[i] = *v
			}
		}
		if err := priorityParam(opt[0]); err != nil {
			return service.SpooledSnapshot{}, "", err
		}
		file, err := s.svc.FetchSnapshot(r.Context(), *loc, opt[2])
		return file, opt[1], err
	}, shardLevel, true)
}

// recoverFromUpload is POST .../snapshots/upload: a multipart form whose
// `snapshot` part is the file; query parameters priority and checksum.
func (s *Server) recoverFromUpload(shardLevel bool) http.HandlerFunc {
	return s.recovering(func(r *http.Request, _ []byte) (service.SpooledSnapshot, string, error) {
		if err := priorityParam(r.URL.Query().Get("priority")); err != nil {
			return service.SpooledSnapshot{}, "", err
		}
		mr, err := r.MultipartReader()
		if err != nil {
			return service.SpooledSnapshot{}, "", apierr.New(apierr.BadRequest, "Bad request: a multipart/form-data body with a `snapshot` file is required: %v", err)
		}
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return service.SpooledSnapshot{}, "", apierr.New(apierr.BadRequest, "Bad request: the form has no `snapshot` file")
			}
			if err != nil {
				return service.SpooledSnapshot{}, "", apierr.New(apierr.BadRequest, "Bad request: reading the form: %v", err)
			}
			if part.FormName() != "snapshot" {
				_ = part.Close()
				continue
			}
			file, err := s.svc.SpoolSnapshot(part)
			_ = part.Close()
			return file, r.URL.Query().Get("checksum"), err
		}
	}, shardLevel, false)
}

// recovering receives a snapshot with receive (in full, before anything
// changes) and recovers the collection or shard from it; with wait=false
// it answers 202 once the file is received.
func (s *Server) recovering(receive func(r *http.Request, body []byte) (service.SpooledSnapshot, string, error), shardLevel, readBody bool) http.HandlerFunc {
	h := func(r *http.Request, body []byte) (any, error) {
		wait, err := waitParam(r)
		if err != nil {
			return nil, err
		}
		var shard uint32
		if shardLevel {
			if shard, err = shardParam(r); err != nil {
				return nil, err
			}
		}
		file, checksum, err := receive(r, body)
		if err != nil {
			return nil, err
		}
		name := r.PathValue("name")
		run := func(ctx context.Context) error {
			defer file.Remove()
			if !shardLevel {
				return s.svc.RecoverSnapshot(ctx, name, file.Path, checksum)
			}
			if checksum != "" && checksum != file.Checksum {
				return apierr.New(apierr.BadRequest, "Bad request: Snapshot checksum mismatch: expected %s, got %s", checksum, file.Checksum)
			}
			return s.svc.RecoverShardSnapshot(ctx, name, shard, file.Path, file.Checksum)
		}
		if !wait {
			return nil, s.background(r, run)
		}
		if err := run(r.Context()); err != nil {
			return nil, err
		}
		return true, nil
	}
	return s.handle(DefaultSnapshotTimeout, readBody, h)
}

// snapshotAPI is apiWithin(DefaultSnapshotTimeout).
func (s *Server) snapshotAPI(h apiHandler) http.HandlerFunc {
	return s.apiWithin(DefaultSnapshotTimeout, h)
}
