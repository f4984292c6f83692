package gong_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/dealdesk/gongingest/shared/gong"
)

func TestUsersPagesByQueryCursor(t *testing.T) {
	g := newFakeGong(t, newFakeClock(), func(n int, r seen) reply {
		q, _ := url.ParseQuery(r.Query)
		switch q.Get("cursor") {
		case "":
			return ok(`{"requestId":"r1","records":{"cursor":"u2"},"users":[{"id":"1","emailAddress":"a@example.com","active":true}]}`)
		case "u2":
			return ok(readFixture(t, "users.json"))
		}
		return gongError(400, "bad cursor")
	})
	c := g.client(t)
	users, err := c.Users(context.Background())
	if err != nil {
		t.Fatalf("Users: %v", err)
	}
	if len(users) != 3 {
		t.Fatalf("users = %d, want 3", len(users))
	}

	for i, r := range g.requests() {
		if r.Method != "GET" || r.Path != "/v2/users" || len(r.Body) != 0 {
			t.Errorf("request %d = %s %s with %d body bytes, want GET /v2/users without a body", i, r.Method, r.Path, len(r.Body))
		}
	}

	jon := users[1]
	if jon.ID != "234599484848423" || jon.Email != "jon.snow@example.com" || !jon.Active || jon.Title != "Enterprise Account Executive" {
		t.Errorf("user = %+v", jon)
	}
	if want := time.Date(2018, 2, 17, 10, 30, 0, 0, time.UTC); !jon.Created.Equal(want) || jon.Created.Location() != time.UTC {
		t.Errorf("Created = %v, want %v", jon.Created, want)
	}

	arya := users[2]
	if arya.ID != "234599484848424" || arya.Email != "" || arya.Active || !arya.Created.IsZero() {
		t.Errorf("user with nulls = %+v", arya)
	}
	if got := c.Requests()[gong.EndpointUsers]; got != 2 {
		t.Errorf("Requests()[users] = %d, want 2", got)
	}
}

func TestUsersErrors(t *testing.T) {
	tests := []struct {
		name     string
		reply    reply
		wantKind gong.ErrorKind
	}{
		{"no users", gongError(404, "No users found corresponding to the provided filters"), 0},
		{"403 scope", gongError(403, "missing scope api:users:read"), gong.KindForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGong(t, newFakeClock(), func(int, seen) reply { return tt.reply })
			users, err := g.client(t).Users(context.Background())
			if tt.wantKind == 0 {
				if err != nil || len(users) != 0 {
					t.Errorf("Users = %v, %v, want none and no error", users, err)
				}
				return
			}
			var apiErr *gong.APIError
			if !errors.As(err, &apiErr) || apiErr.Kind != tt.wantKind {
				t.Fatalf("err = %v, want kind %s", err, tt.wantKind)
			}
			if apiErr.Scope != "api:users:read" {
				t.Errorf("Scope = %q, want api:users:read", apiErr.Scope)
			}
		})
	}
}
