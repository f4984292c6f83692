package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/dealdesk/gongingest/shared/store"
)

var _ = addCases(
	suiteCase{"UserPutUpdateDelete", func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant
		created, err := tn.PutUser(ctx, store.User{UserID: "u1", Email: " Ann@Example.COM ", Name: "Ann", Active: true})
		mustNoErr(t, "PutUser", err)
		if !created {
			t.Errorf("first PutUser created = false, want true")
		}
		mustNoErr(t, "SetUserGongID", tn.SetUserGongID(ctx, "u1", "g-1"))
		e.clock.Advance(time.Hour)
		created, err = tn.PutUser(ctx, store.User{UserID: "u1", Email: "ann@example.com", Active: false})
		mustNoErr(t, "PutUser again", err)
		if created {
			t.Errorf("second PutUser created = true, want false")
		}
		users, err := tn.Users(ctx)
		mustNoErr(t, "Users", err)
		if len(users) != 1 {
			t.Fatalf("Users returned %d users, want 1", len(users))
		}
		u := users[0]
		if u.Email != "ann@example.com" {
			t.Errorf("Email = %q, want lower-cased ann@example.com", u.Email)
		}
		if u.GongUserID != "g-1" {
			t.Errorf("GongUserID = %q, want g-1 kept by a PutUser without one", u.GongUserID)
		}
		if u.Active {
			t.Errorf("Active = true, want false")
		}
		if u.Name != "" {
			t.Errorf("Name = %q, want removed", u.Name)
		}
		start := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
		if !u.JoinedAt.Equal(start) {
			t.Errorf("JoinedAt = %v, want first write time %v", u.JoinedAt, start)
		}
		if !u.UpdatedAt.Equal(start.Add(time.Hour)) {
			t.Errorf("UpdatedAt = %v, want %v", u.UpdatedAt, start.Add(time.Hour))
		}
		mustNoErr(t, "DeleteUser", tn.DeleteUser(ctx, "u1"))
		mustNoErr(t, "DeleteUser missing", tn.DeleteUser(ctx, "u1"))
		users, err = tn.Users(ctx)
		mustNoErr(t, "Users after delete", err)
		if len(users) != 0 {
			t.Errorf("Users after delete = %v, want none", users)
		}
	}},
	suiteCase{"UserErrors", func(t *testing.T, e *env) {
		ctx := context.Background()
		wantNotFound(t, e.tenant.SetUserGongID(ctx, "nobody", "g"))
		if _, err := e.tenant.PutUser(ctx, store.User{UserID: "u2"}); err == nil {
			t.Errorf("PutUser without email succeeded, want an error")
		}
		if _, err := e.tenant.PutUser(ctx, store.User{UserID: "a#b", Email: "x@y.z"}); err == nil {
			t.Errorf("PutUser with '#' in the id succeeded, want an error")
		}
	}},
	suiteCase{"TenantIsolation", func(t *testing.T, e *env) {
		ctx := context.Background()
		other := e.newTenant(t)
		_, err := e.tenant.PutUser(ctx, store.User{UserID: "u1", Email: "a@b.c"})
		mustNoErr(t, "PutUser", err)
		_, err = e.tenant.PutCall(ctx, sampleCall("77"))
		mustNoErr(t, "PutCall", err)
		users, err := other.Users(ctx)
		mustNoErr(t, "Users of other tenant", err)
		if len(users) != 0 {
			t.Errorf("other tenant sees %d users, want 0", len(users))
		}
		_, err = other.GetCall(ctx, "77")
		wantNotFound(t, err)
	}},
)
