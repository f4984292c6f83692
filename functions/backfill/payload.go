package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/dealdesk/gongingest/shared/backfill"
)

// fieldKind is the JSON type a payload field must have.
type fieldKind int

const (
	kindString fieldKind = iota
	kindBool
	kindWholeNumber
	kindStringArray
)

// payloadField is a field of the payload: its JSON type and an example value
// for the fix text.
type payloadField struct {
	kind    fieldKind
	example string
}

// payloadFields lists the fields of backfill.Request by their JSON names.
// Names match exactly: encoding/json would also accept "TenantID" for
// "tenantId", which hides a misspelt field.
var payloadFields = map[string]payloadField{
	"action":      {kindString, `"start"`},
	"tenantId":    {kindString, `"acme"`},
	"from":        {kindString, `"2026-01-01T00:00:00Z"`},
	"to":          {kindString, `"2026-02-01T00:00:00Z"`},
	"userEmails":  {kindStringArray, `["ana@acme.example"]`},
	"dryRun":      {kindBool, `true`},
	"requestedBy": {kindString, `"support@dealdesk.example"`},
	"reason":      {kindString, `"ticket 4711"`},
	"jobId":       {kindString, `"20260301T101500Z-3fa9c2"`},
	"confirm":     {kindString, `"acme"`},
	"limit":       {kindWholeNumber, `20`},
}

const knownFieldsFix = "use only action, tenantId, from, to, userEmails, dryRun, requestedBy, reason, jobId, confirm and limit, spelt exactly so"

const payloadFix = "send one JSON object with action, tenantId and the action's fields; see events/ for examples"

// parseRequest decodes the payload into a request. It accepts exactly one
// JSON object with known fields of the right types, and returns a
// *backfill.FieldError that names the offending field otherwise.
func parseRequest(payload []byte) (backfill.Request, error) {
	trimmed := bytes.TrimSpace(payload)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return backfill.Request{}, &backfill.FieldError{Field: "payload", Value: string(trimmed), Message: "is empty", Fix: payloadFix}
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	var object json.RawMessage
	if err := dec.Decode(&object); err != nil {
		return backfill.Request{}, invalidJSON(trimmed, err)
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return backfill.Request{}, &backfill.FieldError{
			Field: "payload", Value: backfill.TruncateValue(string(bytes.TrimSpace(payload[end:]))),
			Message: fmt.Sprintf("has data after the JSON object, from byte %d", end),
			Fix:     "send a single JSON object and nothing after it",
		}
	}
	if object[0] != '{' {
		return backfill.Request{}, &backfill.FieldError{
			Field: "payload", Value: backfill.TruncateValue(string(object)),
			Message: "is not a JSON object", Fix: payloadFix,
		}
	}
	if err := checkFields(object); err != nil {
		return backfill.Request{}, err
	}
	// Every field is known and of the right type, so this decode succeeds.
	var req backfill.Request
	if err := json.Unmarshal(object, &req); err != nil {
		return backfill.Request{}, invalidJSON(object, err)
	}
	return req, nil
}

func invalidJSON(payload []byte, err error) *backfill.FieldError {
	return &backfill.FieldError{
		Field: "payload", Value: backfill.TruncateValue(string(payload)),
		Message: "is not valid JSON: " + strings.TrimPrefix(err.Error(), "json: "), Fix: payloadFix,
	}
}

// checkFields checks each member of a JSON object, in document order,
// against payloadFields.
func checkFields(object json.RawMessage) error {
	// parseRequest decoded the object once already, so the reads below
	// fail only on a bug.
	dec := json.NewDecoder(bytes.NewReader(object))
	if _, err := dec.Token(); err != nil { // the opening brace
		return invalidJSON(object, err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return invalidJSON(object, err)
		}
		name, _ := tok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return invalidJSON(object, err)
		}
		spec, ok := payloadFields[name]
		if !ok {
			return &backfill.FieldError{Field: backfill.TruncateValue(name), Message: "is not a known field", Fix: knownFieldsFix}
		}
		if err := checkType(name, spec, value); err != nil {
			return err
		}
	}
	return nil
}

// checkType checks that value has the field's JSON type. A null counts as
// the field left out.
func checkType(name string, spec payloadField, value json.RawMessage) *backfill.FieldError {
	if string(value) == "null" {
		return nil
	}
	switch spec.kind {
	case kindString:
		if value[0] != '"' {
			return typeError(name, value, "must be a string", spec)
		}
	case kindBool:
		if string(value) != "true" && string(value) != "false" {
			return typeError(name, value, "must be true or false", spec)
		}
	case kindWholeNumber:
		if !isWholeNumber(value) {
			return typeError(name, value, "must be a whole number", spec)
		}
	case kindStringArray:
		var items []json.RawMessage
		if value[0] != '[' || json.Unmarshal(value, &items) != nil {
			return typeError(name, value, "must be an array of strings", spec)
		}
		for i, item := range items {
			if item[0] != '"' {
				fe := typeError(fmt.Sprintf("%s[%d]", name, i), item, "must be a string", spec)
				fe.Fix = fmt.Sprintf("write each element of %s as a JSON string, such as %s", name, spec.example)
				return fe
			}
		}
	}
	return nil
}

func typeError(field string, value json.RawMessage, message string, spec payloadField) *backfill.FieldError {
	return &backfill.FieldError{
		Field: field, Value: backfill.TruncateValue(string(value)), Message: message,
		Fix: fmt.Sprintf("write %s as %s, such as %s", field, kindName(spec.kind), spec.example),
	}
}

func kindName(k fieldKind) string {
	switch k {
	case kindBool:
		return "true or false without quotes"
	case kindWholeNumber:
		return "a whole number without quotes"
	case kindStringArray:
		return "a JSON array of strings"
	default:
		return "a JSON string in double quotes"
	}
}

// isWholeNumber reports whether value is a JSON number without a fraction
// that fits an int32.
func isWholeNumber(value json.RawMessage) bool {
	var n json.Number
	if json.Unmarshal(value, &n) != nil || value[0] == '"' {
		return false
	}
	i, err := n.Int64()
	return err == nil && i >= math.MinInt32 && i <= math.MaxInt32
}
