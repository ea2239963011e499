package teams

import (
	"context"

	"streamspace/internal/access"
	"streamspace/internal/auth"
	"streamspace/internal/ddb"
	"streamspace/internal/problem"
)

// QuotaView is a team's quota as the API shows it: the limits and what live sessions use.
type QuotaView struct {
	Quota
	Usage struct {
		LiveSessions int `json:"liveSessions"`
		CPUMillis    int `json:"cpuMillis"`
		MemoryMiB    int `json:"memoryMiB"`
	} `json:"usage"`
}

func view(q Quota) QuotaView {
	v := QuotaView{Quota: q}
	v.Usage.LiveSessions, v.Usage.CPUMillis, v.Usage.MemoryMiB = q.MaxSessions-q.SessionsLeft, q.MaxCPUMillis-q.CPULeft, q.MaxMemoryMiB-q.MemoryLeft
	return v
}

// Quota reads the team's quota, for those with quota.view.
func (sv *Service) Quota(ctx context.Context, c auth.Caller, id string) (QuotaView, error) {
	if _, err := sv.authorize(ctx, c, id, access.PermQuotaView); err != nil {
		return QuotaView{}, err
	}
	q, err := sv.Store.Quota(ctx, id)
	return view(q), err
}

// QuotaInput is the body of PUT /teams/{teamId}/quota: the limits given change.
type QuotaInput struct {
	MaxSessions  *int `json:"maxSessions"`
	MaxCPUMillis *int `json:"maxCpuMillis"`
	MaxMemoryMiB *int `json:"maxMemoryMiB"`
}

// SetQuota changes the limits given, on the version ifMatch names (nil: any).
func (sv *Service) SetQuota(ctx context.Context, c auth.Caller, id string, in QuotaInput, ifMatch *int) (QuotaView, error) {
	if _, err := sv.authorize(ctx, c, id, access.PermQuotaManage); err != nil {
		return QuotaView{}, err
	}
	type field struct {
		name   string
		v      *int
		lo, hi int
	}
	fields := []field{{"maxSessions", in.MaxSessions, 0, 10000}, {"maxCpuMillis", in.MaxCPUMillis, 0, 10_000_000},
		{"maxMemoryMiB", in.MaxMemoryMiB, 0, 100_000_000}}
	for _, f := range fields {
		if f.v != nil && (*f.v < f.lo || *f.v > f.hi) {
			return QuotaView{}, problem.Invalid(f.name, "out of range")
		}
	}
	var next Quota
	// Only the limits given change, each attempt on a fresh read: two clients setting different
	// limits concurrently both get theirs.
	err := ddb.RetryOnVersionConflict(ifMatch, "quota", func() error {
		old, err := sv.Store.Quota(ctx, id)
		if err != nil {
			return err
		}
		if err := ddb.CheckIfMatch(ifMatch, "quota", old.Version); err != nil {
			return err
		}
		next = old
		for i, dst := range []*int{&next.MaxSessions, &next.MaxCPUMillis, &next.MaxMemoryMiB} {
			if fields[i].v != nil {
				*dst = *fields[i].v
			}
		}
		if next == old {
			return nil // nothing changes: no write, same version
		}
		if err := sv.Store.SetQuota(ctx, id, old, next); err != nil {
			return err
		}
		next.SessionsLeft += next.MaxSessions - old.MaxSessions
		next.CPULeft += next.MaxCPUMillis - old.MaxCPUMillis
		next.MemoryLeft += next.MaxMemoryMiB - old.MaxMemoryMiB
		next.Version++
		return nil
	})
	return view(next), err
}
