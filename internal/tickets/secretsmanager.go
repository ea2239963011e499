package tickets

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// SecretsManagerSource reads the key set from a Secrets Manager secret (its current version),
// the AWS home of the keys: the sessions function signs with it, the gateway verifies.
func SecretsManagerSource(client *secretsmanager.Client, secretID string) Source {
	return func(ctx context.Context) (KeySet, error) {
		out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretID)})
		if err != nil {
			return KeySet{}, err
		}
		var ks KeySet
		if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &ks); err != nil {
			return KeySet{}, fmt.Errorf("secret %s is not a ticket key set: %w", secretID, err)
		}
		return ks, nil
	}
}
