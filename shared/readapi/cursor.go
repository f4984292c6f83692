package readapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// cursor is the opaque page token of the deal calls route: the index
// position after which the next page starts, and a digest of the tenant and
// deal it was issued for.
//
// The digest is an unkeyed consistency check, not a signature, so a client
// can forge a token. That is harmless: the listing query is always built from
// the tenant in the caller's JWT claims and the deal in the path, so a forged
// position can only move within the caller's own deal listing. The digest is
// checked so that a token reused for another deal or tenant surfaces as a
// 400 instead of a wrong page.
type cursor struct {
	After   string `json:"a"`
	Binding string `json:"b"`
}

// maxCursorLength bounds the token before it is decoded. A real token, with
// a 20-character time, a call id of at most maxCallIDLength and the digest,
// is under 250 characters.
const maxCursorLength = 512

// errMalformedCursor is returned for every token that is not one this API
// issued; it shows none of the token.
func errMalformedCursor() *apiError {
	return badRequest("cursor", "cursor is malformed: pass the nextCursor of the previous page unchanged")
}

func cursorBinding(tenantID, dealID string) string {
	sum := sha256.Sum256([]byte(tenantID + "\x00" + dealID))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

func encodeCursor(tenantID, dealID, after string) string {
	b, _ := json.Marshal(cursor{After: after, Binding: cursorBinding(tenantID, dealID)})
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor returns the position of a token issued for this tenant and
// deal. The position is checked to have the form of the deal index sort key
// (store.DealIndexSK), so the store is never queried with anything else.
func decodeCursor(token, tenantID, dealID string) (string, *apiError) {
	if len(token) > maxCursorLength {
		return "", errMalformedCursor()
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", errMalformedCursor()
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	var c cursor
	if err := dec.Decode(&c); err != nil || dec.More() {
		return "", errMalformedCursor()
	}
	if c.Binding != cursorBinding(tenantID, dealID) {
		return "", badRequest("cursor", "cursor was issued for another deal listing: pass the nextCursor of this deal's previous page")
	}
	if !validPosition(c.After) {
		return "", errMalformedCursor()
	}
	return c.After, nil
}

// validPosition reports whether after is a deal index sort key:
// <started, RFC 3339 in UTC to the second>#<call id>.
func validPosition(after string) bool {
	started, callID, ok := strings.Cut(after, "#")
	if !ok {
		return false
	}
	t, err := time.Parse(time.RFC3339, started)
	if err != nil || t.UTC().Format(time.RFC3339) != started {
		return false
	}
	return validateCallID(callID) == nil
}
