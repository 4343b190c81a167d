package etcdx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"testing"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// TestIsOutage: a cluster that does not answer is an outage; one that
// turns the provider's certificates down, or whose certificate the provider
// does not trust, is a configuration to fix.
func TestIsOutage(t *testing.T) {
	refused := errors.New("dial tcp 127.0.0.1:2379: connect: connection refused")
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nothing answers", &NoEndpointError{Err: errors.Join(fmt.Errorf("http://127.0.0.1:2379: %w: %w", context.DeadlineExceeded, refused))}, true},
		{"not a cluster read at all", errors.New("boom"), false},
		{"unknown CA", &NoEndpointError{Err: fmt.Errorf("%w: %w", context.DeadlineExceeded, &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}})}, false},
		{"client certificate required", &NoEndpointError{Err: fmt.Errorf("%w: remote error: tls: certificate required", context.DeadlineExceeded)}, false},
		{"wrong password", &NoEndpointError{Err: errors.Join(fmt.Errorf("http://127.0.0.1:2379: %w", rpctypes.ErrGRPCAuthFailed))}, false},
	} {
		if got := IsOutage(tc.err); got != tc.want {
			t.Errorf("%s: IsOutage = %v, want %v", tc.name, got, tc.want)
		}
	}
}
