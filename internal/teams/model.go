package teams

import "time"

// Team is a group of users that can own sessions together.
type Team struct {
	ID          string    `json:"id" dynamodbav:"id"`
	Name        string    `json:"name" dynamodbav:"name"`
	DisplayName string    `json:"displayName" dynamodbav:"displayName"`
	Description string    `json:"description,omitempty" dynamodbav:"description,omitempty"`
	CreatedBy   string    `json:"createdBy" dynamodbav:"createdBy"`
	CreatedAt   time.Time `json:"createdAt" dynamodbav:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt" dynamodbav:"updatedAt"`
	// OwnerCount guards "the last owner cannot leave": demoting or removing an owner is
	// conditional on it being above 1, in the same transaction.
	OwnerCount int `json:"-" dynamodbav:"ownerCount"`
	// Version counts changes of the descriptive fields (PATCH); ownerCount moves do not bump it.
	Version int `json:"version" dynamodbav:"version,omitempty"`
}

// Member is one user's membership.
type Member struct {
	TeamID  string    `json:"teamId" dynamodbav:"teamId"`
	UserID  string    `json:"userId" dynamodbav:"userId"`
	Role    string    `json:"role" dynamodbav:"role"`
	AddedBy string    `json:"addedBy" dynamodbav:"addedBy"`
	AddedAt time.Time `json:"addedAt" dynamodbav:"addedAt"`
	Version int       `json:"version" dynamodbav:"version,omitempty"` // bumped by each role change
}

// Quota is a team's limits and live usage.
type Quota struct {
	MaxSessions  int `json:"maxSessions" dynamodbav:"maxSessions"`
	MaxCPUMillis int `json:"maxCpuMillis" dynamodbav:"maxCpuMillis"`
	MaxMemoryMiB int `json:"maxMemoryMiB" dynamodbav:"maxMemoryMiB"`
	SessionsLeft int `json:"-" dynamodbav:"sessionsLeft"`
	CPULeft      int `json:"-" dynamodbav:"cpuLeft"`
	MemoryLeft   int `json:"-" dynamodbav:"memoryLeft"`
	// Version counts limit changes (PUT …/quota). Sessions move the headroom with ADD, which
	// commutes with a limit change, so usage does not bump it.
	Version int `json:"version" dynamodbav:"version,omitempty"`
}

// DefaultQuota is a new team's quota.
var DefaultQuota = Quota{MaxSessions: 20, MaxCPUMillis: 64000, MaxMemoryMiB: 131072, Version: 1}

// EntityMember marks membership items (the notifier derives team.member.* events from them).
const EntityMember = "teamMember"
