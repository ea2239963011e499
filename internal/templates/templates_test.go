package templates

import (
	"strings"
	"testing"

	"streamspace/internal/problem"
	"streamspace/internal/resources"
)

func TestValidName(t *testing.T) {
	for name, ok := range map[string]bool{"terminal": true, "firefox-browser": true, "a": true, "x1": true,
		strings.Repeat("a", 63): true, strings.Repeat("a", 64): false, "": false, "-a": false, "a-": false,
		"Firefox": false, "a_b": false, "a.b": false, "../x": false} {
		if ValidName(name) != ok {
			t.Errorf("ValidName(%q) = %v", name, !ok)
		}
	}
}

func TestValidate(t *testing.T) {
	good := Template{Name: "terminal", DisplayName: "Terminal", Category: "Development", Image: "streamspace/terminal",
		DefaultResources: resources.Resources{CPU: "500m", Memory: "512Mi"}}
	with := func(f func(*Template)) Template { tp := good; f(&tp); return tp }
	for _, c := range []struct {
		name  string
		tpl   Template
		field string // "" = valid
	}{
		{"good", good, ""},
		{"bad name", with(func(tp *Template) { tp.Name = "Terminal" }), "name"},
		{"no display name", with(func(tp *Template) { tp.DisplayName = "  " }), "displayName"},
		{"no category", with(func(tp *Template) { tp.Category = "" }), "category"},
		{"no image", with(func(tp *Template) { tp.Image = "" }), "image"},
		{"long description", with(func(tp *Template) { tp.Description = strings.Repeat("d", 2049) }), "description"},
		{"long command", with(func(tp *Template) { tp.LocalCommand = strings.Repeat("c", 513) }), "localCommand"},
		{"empty tag", with(func(tp *Template) { tp.Tags = []string{""} }), "tags"},
		{"51 tags", with(func(tp *Template) { tp.Tags = make([]string, 51) }), "tags"},
		{"bad CPU", with(func(tp *Template) { tp.DefaultResources.CPU = "99m" }), "defaultResources.cpu"},
		{"bad memory", with(func(tp *Template) { tp.DefaultResources.Memory = "1Ti" }), "defaultResources.memory"},
	} {
		err := c.tpl.Validate()
		p := problem.As(err)
		if c.field == "" && err != nil || c.field != "" && (p == nil || p.Status != 400 || p.Errors[0].Field != c.field) {
			t.Errorf("%s: %v, want field %q", c.name, err, c.field)
		}
	}
	tp := good
	if tp.Validate(); tp.Tags == nil {
		t.Error("a valid template without tags keeps nil tags (the API shows [])")
	}
}

func TestFilter(t *testing.T) {
	all := []Template{
		{Name: "terminal", DisplayName: "Terminal", Category: "Development", Tags: []string{"shell"}},
		{Name: "firefox-browser", DisplayName: "Firefox", Category: "Browsers", Description: "The web", Tags: []string{"web"}},
		{Name: "gimp", DisplayName: "GIMP", Category: "Graphics", Tags: []string{"Images"}},
	}
	names := func(ts []Template) string {
		var out []string
		for _, t := range ts {
			out = append(out, t.Name)
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct{ q, category, tag, want string }{
		{"", "", "", "terminal,firefox-browser,gimp"},
		{"WEB", "", "", "firefox-browser"},
		{"shell", "", "", "terminal"},
		{"", "graphics", "", "gimp"},
		{"", "", "images", "gimp"},
		{"fire", "Browsers", "web", "firefox-browser"},
		{"fire", "Graphics", "", ""},
		{"", "", "ima", ""}, // tags match whole
	} {
		if got := names(Filter(all, c.q, c.category, c.tag)); got != c.want {
			t.Errorf("Filter(%q, %q, %q) = %s, want %s", c.q, c.category, c.tag, got, c.want)
		}
	}
}
