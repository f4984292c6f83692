package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/dealdesk/gongingest/shared/calls"
	"github.com/dealdesk/gongingest/shared/gong"
	"github.com/dealdesk/gongingest/shared/store"
)

// UsersRefreshInterval is how often a sync reads Gong's user list to learn
// the Gong user ids of the organization's users.
const UsersRefreshInterval = 24 * time.Hour

// tenantUsers is the organization's active users, matched to participants by
// email (compared case-insensitively) or by Gong user id.
type tenantUsers struct {
	emails  map[string]bool
	gongIDs map[string]bool
}

func newTenantUsers(users []store.User) tenantUsers {
	tu := tenantUsers{emails: map[string]bool{}, gongIDs: map[string]bool{}}
	for _, u := range users {
		if !u.Active {
			continue
		}
		if e := normalizeEmail(u.Email); e != "" {
			tu.emails[e] = true
		}
		if u.GongUserID != "" {
			tu.gongIDs[u.GongUserID] = true
		}
	}
	return tu
}

func (tu tenantUsers) empty() bool { return len(tu.emails) == 0 && len(tu.gongIDs) == 0 }

// includes reports whether the call has a participant who is one of the
// users. A call without parties, such as an imported recording, falls back to
// its primary user, the Gong user who owns the recording.
func (tu tenantUsers) includes(c calls.Call) bool {
	for _, p := range c.Participants {
		if (p.Email != "" && tu.emails[p.Email]) || (p.GongUserID != "" && tu.gongIDs[p.GongUserID]) {
			return true
		}
	}
	return c.PrimaryUserID != "" && tu.gongIDs[c.PrimaryUserID]
}

// scopeUsers returns the subset of the users whose emails are listed, for a
// backfill that reads history for those users only.
func scopeUsers(users []store.User, emails []string) tenantUsers {
	want := map[string]bool{}
	for _, e := range emails {
		want[normalizeEmail(e)] = true
	}
	tu := tenantUsers{emails: map[string]bool{}, gongIDs: map[string]bool{}}
	for e := range want {
		if e != "" {
			tu.emails[e] = true
		}
	}
	for _, u := range users {
		if want[normalizeEmail(u.Email)] && u.GongUserID != "" {
			tu.gongIDs[u.GongUserID] = true
		}
	}
	return tu
}

// linkGongUsers records the Gong user id of each organization user whose
// email matches a Gong user, case-insensitively. It returns the users with
// the ids filled in and how many links changed.
func linkGongUsers(ctx context.Context, t *store.Tenant, users []store.User, gongUsers []gong.User) ([]store.User, int, error) {
	byEmail := map[string]string{}
	for _, g := range gongUsers {
		if e := normalizeEmail(g.Email); e != "" && g.ID != "" {
			byEmail[e] = g.ID
		}
	}
	changed := 0
	out := make([]store.User, len(users))
	copy(out, users)
	for i, u := range out {
		id, ok := byEmail[normalizeEmail(u.Email)]
		if !ok || id == u.GongUserID {
			continue
		}
		if err := t.SetUserGongID(ctx, u.UserID, id); err != nil {
			return nil, changed, fmt.Errorf("link user %s to Gong user %s: %w", u.UserID, id, err)
		}
		out[i].GongUserID = id
		changed++
	}
	return out, changed, nil
}
