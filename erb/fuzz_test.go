package erb

import "testing"

// FuzzRender checks that no template makes Render or the position map
// panic, and that every output position maps inside the template.
func FuzzRender(f *testing.F) {
	for _, s := range []string{
		"a: <%= ENV['X'] %>\n", "<% if ENV[\"X\"] -%>\nx\n<% else %>y<% end %>", "<%%= <%# c %> %>",
		"<%= Rails.application.credentials.dig(:a, 'b') %>", "<%- unless nil -%>\n ü<% end %>", "<%= \"\\n\" %>\n",
	} {
		f.Add(s)
	}
	ctx := testContext()
	f.Fuzz(func(t *testing.T, src string) {
		r, err := Render("f", []byte(src), ctx)
		if err != nil {
			return
		}
		lines := 1
		for _, c := range r.Output {
			if c == '\n' {
				lines++
			}
		}
		for line := 0; line <= lines+1; line++ {
			for col := 0; col < 4; col++ {
				p := r.Source(Pos{Line: line, Col: col})
				if p.Line < 1 || p.Col < 1 {
					t.Fatalf("Source(%d,%d) = %v", line, col, p)
				}
			}
		}
		r.Secrets()
	})
}
