package sharing

import "time"

// Share gives one user a permission level on one session.
type Share struct {
	ID               string     `json:"id" dynamodbav:"shareId"`
	SessionID        string     `json:"sessionId" dynamodbav:"sessionId"`
	SharedWithUserID string     `json:"sharedWithUserId" dynamodbav:"sharedWithUserId"`
	PermissionLevel  string     `json:"permissionLevel" dynamodbav:"permissionLevel"`
	CreatedBy        string     `json:"createdBy" dynamodbav:"createdBy"`
	CreatedAt        time.Time  `json:"createdAt" dynamodbav:"createdAt"`
	UpdatedAt        time.Time  `json:"updatedAt" dynamodbav:"updatedAt"`
	ExpiresAt        *time.Time `json:"expiresAt,omitempty" dynamodbav:"-"`
	// Expiry is ExpiresAt as epoch seconds: the table's TTL attribute, so an expired share is
	// also removed (and announced as session.unshared) by DynamoDB itself.
	Expiry int64 `json:"-" dynamodbav:"expiresAt,omitempty"`
}

// Active reports whether the share grants anything now.
func (s Share) Active(now time.Time) bool { return s.Expiry == 0 || now.Unix() < s.Expiry }

func (s *Share) fill() {
	if s.Expiry > 0 {
		t := time.Unix(s.Expiry, 0).UTC()
		s.ExpiresAt = &t
	}
}

// Invitation lets whoever holds its token gain a share, up to MaxUses times.
type Invitation struct {
	ID              string    `json:"id" dynamodbav:"id"`
	SessionID       string    `json:"sessionId" dynamodbav:"sessionId"`
	PermissionLevel string    `json:"permissionLevel" dynamodbav:"permissionLevel"`
	MaxUses         int       `json:"maxUses" dynamodbav:"maxUses"`
	Uses            int       `json:"uses" dynamodbav:"uses"`
	ValidUntil      time.Time `json:"expiresAt" dynamodbav:"validUntil"`
	ValidUntilUnix  int64     `json:"-" dynamodbav:"validUntilUnix"` // what the accept condition compares
	Revoked         bool      `json:"revoked" dynamodbav:"revoked"`
	TokenPrefix     string    `json:"tokenPrefix" dynamodbav:"tokenPrefix"`
	CreatedBy       string    `json:"createdBy" dynamodbav:"createdBy"`
	CreatedAt       time.Time `json:"createdAt" dynamodbav:"createdAt"`
	// CreatorRole is the platform role the creator had from outside the user store (an identity
	// provider's claim): with the stored role, what re-checks that the creator may still share.
	CreatorRole string `json:"-" dynamodbav:"creatorRole,omitempty"`
}

// Usable reports why an invitation cannot be accepted ("" when it can).
func (i Invitation) Usable(now time.Time) string {
	switch {
	case i.Revoked:
		return "the invitation was revoked"
	case !now.Before(i.ValidUntil):
		return "the invitation has expired"
	case i.Uses >= i.MaxUses:
		return "the invitation has been used up"
	}
	return ""
}

// EntityShare marks share items (the notifier derives session.shared / session.unshared);
// EntityInvitation marks invitations (the activity log records their creation and use).
const (
	EntityShare      = "share"
	EntityInvitation = "invitation"
)
