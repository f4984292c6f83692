package readapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
)

// cursor is the opaque page token of the deal calls route: the index
// position after which the next page starts, and a digest of the tenant and
// deal it was issued for. The digest is a consistency check, not a secret:
// the listing query is always built from the caller's own tenant and the deal
// in the path, so a token from elsewhere could never reach other data; it is
// rejected so that a client bug surfaces as a 400 instead of a wrong page.
type cursor struct {
	After   string `json:"a"`
	Binding string `json:"b"`
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
// deal.
func decodeCursor(token, tenantID, dealID string) (string, *apiError) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	var c cursor
	if err == nil {
		err = json.Unmarshal(raw, &c)
	}
	if err != nil || c.After == "" {
		return "", badRequest("cursor", "cursor is malformed: pass the nextCursor of the previous page unchanged")
	}
	if c.Binding != cursorBinding(tenantID, dealID) {
		return "", badRequest("cursor", "cursor was issued for another deal listing: pass the nextCursor of this deal's previous page")
	}
	return c.After, nil
}
