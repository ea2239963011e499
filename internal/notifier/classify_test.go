package notifier

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func apiError(status int) error {
	return &smithy.OperationError{ServiceID: "ApiGatewayManagementApi", OperationName: "PostToConnection",
		Err: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: errors.New("injected")}}
}

// SEC-08: errors of the management API as a whole fail the record (retried, nothing lost); a
// connection's own failure (500 for it, a timed-out post) only parks that connection.
func TestServiceFailureClassification(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{apiError(http.StatusTooManyRequests), true},
		{apiError(http.StatusServiceUnavailable), true},
		{apiError(http.StatusBadGateway), true},
		{apiError(http.StatusForbidden), true},
		{apiError(http.StatusInternalServerError), false},
		{fmt.Errorf("post: %w", context.DeadlineExceeded), false},
		{&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, true},
		{&net.DNSError{Err: "no such host", Name: "x"}, true},
	} {
		if got := serviceFailure(c.err); got != c.want {
			t.Errorf("serviceFailure(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
