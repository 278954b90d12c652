package catalog

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// QuotasKey holds the cluster-wide quota configuration: Qdrant's
// QuotaConfig object as JSON, exactly as the router validated it.
const QuotasKey = cluster.Prefix + "quotas"

// MaxQuotaConfigBytes bounds a stored quota configuration.
const MaxQuotaConfigBytes = 64 << 10

// GetQuotas returns the stored quota configuration (empty when it was
// never set: every limit unset, disabled).
func (s *Service) GetQuotas(ctx context.Context, _ *connect.Request[shoalv1.GetQuotasRequest]) (*connect.Response[shoalv1.GetQuotasResponse], error) {
	got, err := s.cli.Get(ctx, QuotasKey)
	if err != nil {
		return nil, storeError(ctx, "read quotas", err)
	}
	resp := &shoalv1.GetQuotasResponse{}
	if len(got.Kvs) > 0 {
		resp.ConfigJson = got.Kvs[0].Value
	}
	return connect.NewResponse(resp), nil
}

// SetQuotas replaces the quota configuration. The router validates its
// content against Qdrant's QuotaConfig; the catalog only bounds its size.
func (s *Service) SetQuotas(ctx context.Context, req *connect.Request[shoalv1.SetQuotasRequest]) (*connect.Response[shoalv1.SetQuotasResponse], error) {
	cfg := req.Msg.GetConfigJson()
	if len(cfg) > MaxQuotaConfigBytes {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("Validation error in JSON body: quota configuration larger than %d bytes", MaxQuotaConfigBytes))
	}
	resp, err := s.cli.Put(ctx, QuotasKey, string(cfg))
	if err != nil {
		return nil, storeError(ctx, "store quotas", err)
	}
	s.log.Info().Bytes("quotas", cfg).Int64("revision", resp.Header.Revision).Msg("quotas set")
	return connect.NewResponse(&shoalv1.SetQuotasResponse{Revision: resp.Header.Revision}), nil
}
