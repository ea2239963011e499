package ddb

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/problem"
)

// Optimistic locking for every updatable item other than sessions (which keep their own loop in
// internal/sessions): a `version` number attribute, bumped by each write that changes something.

// VersionAttr is the attribute that holds an item's version.
const VersionAttr = "version"

// Version is the version of an item as read: items written before versions existed have no
// attribute and count as version 1, so their first ETag is "1" like a new item's.
func Version(stored int) int { return max(stored, 1) }

// VersionCondition is the condition that an item is still at version (as Version returns it),
// with its placeholders "#ver" and ":ver". Version 1 also matches an item without the attribute.
// Callers SET #ver = version+1 in the same write.
func VersionCondition(version int) (cond string, names map[string]string, values map[string]types.AttributeValue) {
	names = map[string]string{"#ver": VersionAttr}
	values = map[string]types.AttributeValue{":ver": &types.AttributeValueMemberN{Value: strconv.Itoa(version)}}
	if version == 1 {
		return "(attribute_not_exists(#ver) OR #ver = :ver)", names, values
	}
	return "#ver = :ver", names, values
}

// ErrVersionConflict is what an attempt returns when its conditional write found another version.
var ErrVersionConflict = errors.New("version conflict")

// CheckIfMatch answers 412 when the client pinned a version the item no longer has.
func CheckIfMatch(ifMatch *int, what string, version int) error {
	if ifMatch != nil && *ifMatch != version {
		return problem.PreconditionFailed(fmt.Sprintf("the %s is at version %d", what, version))
	}
	return nil
}

// versionRetries bounds the transparent retries, as for sessions: jittered backoff of 1-640 ms in all.
const versionRetries = 8

// RetryOnVersionConflict runs attempt (read, CheckIfMatch, conditional write) until it does not
// report ErrVersionConflict. Without If-Match a conflict is retried on a fresh read, so no
// update is lost and clients that do not care never see it; with If-Match it is the client's: 412.
// Lasting contention ends in 409 (retry later).
func RetryOnVersionConflict(ifMatch *int, what string, attempt func() error) error {
	for n := 0; ; n++ {
		err := attempt()
		switch {
		case !errors.Is(err, ErrVersionConflict):
			return err
		case ifMatch != nil:
			return problem.PreconditionFailed("the " + what + " changed concurrently; read it again")
		case n >= versionRetries:
			return problem.Conflict("the " + what + " is being changed by others right now; retry")
		}
		// Jittered: writers that collided once must not collide again in lockstep.
		time.Sleep(time.Duration(rand.IntN(5<<n)+1) * time.Millisecond)
	}
}

// ConditionFailed reports whether err is a failed condition of a single-item write.
func ConditionFailed(err error) bool {
	var cfe *types.ConditionalCheckFailedException
	return errors.As(err, &cfe)
}
