package activity

import (
	"encoding/json"
	"strings"
	"testing"

	"streamspace/internal/access"
)

func TestStorableMetadata(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
	for in, ok := range map[string]bool{
		`{"n":1,"s":"x","l":[1,2,{"k":true}]}`: true, `{"n":0}`: true, `{"n":9.99e125}`: true,
		`{"n":1e200}`: false, `{"n":-1e200}`: false, `{"n":1e-200}`: false, `{"":"x"}`: false, `{"a":{"":1}}`: false,
		deep: false,
	} {
		var m map[string]any
		if err := json.Unmarshal([]byte(in), &m); err != nil {
			t.Fatal(err)
		}
		if err := storable(m, 1); (err == nil) != ok {
			t.Errorf("%.40s: %v, want ok=%v", in, err, ok)
		}
	}
}

// SEC-12: who sees where people were and whom a session is shared with.
func TestForRedactsForNonManagers(t *testing.T) {
	a := Activity{EventType: "share.created", EventCategory: Access, Description: "shared with carol (view)",
		Metadata: map[string]any{"sharedWithUserId": "carol"}, IP: "10.0.0.1", UserAgent: "Laptop"}
	if got := a.For(access.Grant{Level: access.Control, Manage: true}); got.IP == "" || got.Metadata == nil {
		t.Errorf("a manager sees %+v", got)
	}
	got := a.For(access.Grant{Level: access.Collaborate})
	if got.IP != "" || got.UserAgent != "" || got.Metadata != nil || strings.Contains(got.Description, "carol") {
		t.Errorf("a collaborator sees %+v", got)
	}
	b := Activity{EventType: "tags.updated", EventCategory: Configuration, Metadata: map[string]any{"tags": []string{"x"}}, IP: "10.0.0.1"}
	if got := b.For(access.Grant{Level: access.View}); got.IP != "" || got.Metadata == nil {
		t.Errorf("a viewer of a tags entry sees %+v, want the tags without the address", got)
	}
}
