package connections

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
)

// ErrGone marks a connection the management API no longer knows (410).
var ErrGone = errors.New("connection gone")

// ManagementPoster posts through the API Gateway management API.
type ManagementPoster struct {
	Client *apigatewaymanagementapi.Client
}

func (p ManagementPoster) Post(ctx context.Context, connectionID string, data []byte) error {
	_, err := p.Client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &connectionID, Data: data})
	var gone *types.GoneException
	if errors.As(err, &gone) {
		return ErrGone
	}
	return err
}

// Close ends a connection from the server's side (DELETE @connections/{id}); a connection
// already gone is no error.
func (p ManagementPoster) Close(ctx context.Context, connectionID string) error {
	_, err := p.Client.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: &connectionID})
	var gone *types.GoneException
	if errors.As(err, &gone) {
		return nil
	}
	return err
}
