package service

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"

	"connectrpc.com/connect"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
)

// Quotas (Qdrant's GET and PUT /quotas) are cluster-wide limits on the
// resident memory and disk usage of each node. The configuration is
// stored by meta in etcd, so every router reports the same one. The
// utilization reported is this router's own (it stores no data, so its
// disk usage is unknown: null); the limits are not enforced (see
// docs/COMPATIBILITY.md), so no node is reported as exceeding them.

// QuotaUsage is a node's utilization; nil members are unknown.
type QuotaUsage struct {
	ResidentMemoryPercent *uint8
	DiskUsagePercent      *uint8
}

// Quotas returns the stored quota configuration (Qdrant's QuotaConfig
// JSON; nil when never set) and this router's utilization.
func (s *Service) Quotas(ctx context.Context) ([]byte, QuotaUsage, error) {
	var cfg []byte
	err := s.callMeta(ctx, "get quotas", func(cl shoalv1connect.MetaServiceClient) error {
		r, err := cl.GetQuotas(ctx, connect.NewRequest(&shoalv1.GetQuotasRequest{}))
		if err == nil {
			cfg = r.Msg.GetConfigJson()
		}
		return err
	})
	if err != nil {
		return nil, QuotaUsage{}, err
	}
	return cfg, QuotaUsage{ResidentMemoryPercent: residentMemoryPercent()}, nil
}

// SetQuotas stores a validated quota configuration (QuotaConfig JSON).
func (s *Service) SetQuotas(ctx context.Context, cfg []byte) error {
	return s.callMeta(ctx, "set quotas", func(cl shoalv1connect.MetaServiceClient) error {
		_, err := cl.SetQuotas(ctx, connect.NewRequest(&shoalv1.SetQuotasRequest{ConfigJson: cfg}))
		return err
	})
}

// residentMemoryPercent is this process's resident memory as a
// percentage of the memory available to it: the cgroup (v2) limit when
// one is set, else the machine's total memory. nil when the platform does
// not expose them.
func residentMemoryPercent() *uint8 {
	rss := statusKB("/proc/self/status", "VmRSS:")
	if rss <= 0 {
		return nil
	}
	total := statusKB("/proc/meminfo", "MemTotal:") * 1024
	if raw, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if limit, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64); err == nil && limit > 0 && (total <= 0 || limit < total) {
			total = limit
		}
	}
	if total <= 0 {
		return nil
	}
	p := min(rss*1024*100/total, 100)
	v := uint8(p)
	return &v
}

// statusKB reads the kB value of the line starting with key in a
// /proc file such as /proc/self/status; 0 when absent.
func statusKB(path, key string) int64 {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, key) {
			continue
		}
		f := strings.Fields(strings.TrimPrefix(line, key))
		if len(f) == 0 {
			return 0
		}
		v, _ := strconv.ParseInt(f[0], 10, 64)
		return v
	}
	return 0
}
