package streams

import (
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// toLambdaRecord renders a stream record exactly as Lambda hands it to a function.
func toLambdaRecord(r types.Record, streamARN, region string) (events.DynamoDBEventRecord, error) {
	sr := r.Dynamodb
	if sr == nil {
		return events.DynamoDBEventRecord{}, fmt.Errorf("record %s has no stream data", aws.ToString(r.EventID))
	}
	keys, err1 := toImage(sr.Keys)
	newImg, err2 := toImage(sr.NewImage)
	oldImg, err3 := toImage(sr.OldImage)
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			return events.DynamoDBEventRecord{}, err
		}
	}
	out := events.DynamoDBEventRecord{
		AWSRegion: region, EventID: aws.ToString(r.EventID), EventName: string(r.EventName),
		EventSource: "aws:dynamodb", EventVersion: aws.ToString(r.EventVersion), EventSourceArn: streamARN,
		Change: events.DynamoDBStreamRecord{Keys: keys, NewImage: newImg, OldImage: oldImg,
			SequenceNumber: aws.ToString(sr.SequenceNumber), SizeBytes: aws.ToInt64(sr.SizeBytes),
			StreamViewType: string(sr.StreamViewType)},
	}
	if sr.ApproximateCreationDateTime != nil {
		out.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: *sr.ApproximateCreationDateTime}
	}
	if r.UserIdentity != nil {
		out.UserIdentity = &events.DynamoDBUserIdentity{Type: aws.ToString(r.UserIdentity.Type), PrincipalID: aws.ToString(r.UserIdentity.PrincipalId)}
	}
	return out, nil
}

func toImage(m map[string]types.AttributeValue) (map[string]events.DynamoDBAttributeValue, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(m))
	for k, v := range m {
		av, err := toValue(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

func toValue(v types.AttributeValue) (events.DynamoDBAttributeValue, error) {
	switch t := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(t.Value), nil
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(t.Value), nil
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(t.Value), nil
	case *types.AttributeValueMemberNULL:
		return events.NewNullAttribute(), nil
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(t.Value), nil
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(t.Value), nil
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(t.Value), nil
	case *types.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(t.Value), nil
	case *types.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, 0, len(t.Value))
		for _, x := range t.Value {
			av, err := toValue(x)
			if err != nil {
				return events.DynamoDBAttributeValue{}, err
			}
			l = append(l, av)
		}
		return events.NewListAttribute(l), nil
	case *types.AttributeValueMemberM:
		m, err := toImage(t.Value)
		if err != nil {
			return events.DynamoDBAttributeValue{}, err
		}
		return events.NewMapAttribute(m), nil
	}
	return events.DynamoDBAttributeValue{}, fmt.Errorf("unsupported attribute type %T", v)
}
