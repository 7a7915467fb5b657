package handlers

import (
	"slices"
	"strings"
	"testing"

	"portal/contacts"
)

func TestIDListCarriesTheConfirmedContacts(t *testing.T) {
	var many []int64
	for i := range int64(contacts.MaxBulk) {
		many = append(many, 1_000_000+i*97)
	}
	for _, ids := range [][]int64{{1}, {7, 8, 9, 1000, 123456789}, many} {
		list := idList(ids)
		got, ok := parseIDList(list)
		if !ok || !slices.Equal(got, ids) {
			t.Errorf("%d ids came back as %d (ok %v)", len(ids), len(got), ok)
		}
		if len(list) > BodyLimit/2 {
			t.Errorf("%d ids take %d bytes of a form of at most %d", len(ids), len(list), BodyLimit)
		}
	}
	for _, bad := range []string{"", "0", "5.0", "5.-1", "a.b.!", "5..6", strings.Repeat("1.", contacts.MaxBulk) + "1", "zzzzzzzzzzzzz.zzzzzzzzzzzzz"} {
		if ids, ok := parseIDList(bad); ok {
			t.Errorf("parseIDList(%.40q) = %d ids, want refused", bad, len(ids))
		}
	}
}
