package zapp

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExpand(t *testing.T) {
	vars := Vars{"user_name": "alice", "execution_id": "42", "dns_name#self": "web0-42-prod", "proxy_path": "/proxy/42/web0/8888/"}
	tests := []struct {
		tmpl    string
		want    string
		wantErr string
	}{
		{"plain", "plain", ""},
		{"", "", ""},
		{"{user_name}", "alice", ""},
		{"http://{dns_name#self}:7077/{execution_id}", "http://web0-42-prod:7077/42", ""},
		{"--base-url={proxy_path}", "--base-url=/proxy/42/web0/8888/", ""},
		{"{{user_name}}", "{user_name}", ""},
		{"{{{user_name}}}", "{alice}", ""},
		{`{{"a": 1}}`, `{"a": 1}`, ""},
		{"{nope}", "", "invalid template: unknown variable {nope} (known: {dns_name#self}, {execution_id}, {proxy_path}, {user_name})"},
		{"{user_name", "", `invalid template: unclosed "{" at offset 0 (write "{{" for a literal brace)`},
		{"a{b{c}", "", `invalid template: unclosed "{" at offset 1 (write "{{" for a literal brace)`},
		{"a}", "", `invalid template: single "}" at offset 1 (write "}}" for a literal brace)`},
		{"{}", "", `invalid template: empty "{}" at offset 0 (write "{{}}" for literal braces)`},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl, func(t *testing.T) {
			got, err := Expand(tt.tmpl, vars)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !errors.Is(err, ErrTemplate) {
					t.Errorf("got %q, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		cmd     string
		want    []string
		wantErr bool
	}{
		{"sleep 10", []string{"sleep", "10"}, false},
		{"  sleep\t 10\n", []string{"sleep", "10"}, false},
		{`sh -c 'echo "hi there"; exit 1'`, []string{"sh", "-c", `echo "hi there"; exit 1`}, false},
		{`echo "a \"b\" \\ \n"`, []string{"echo", `a "b" \ \n`}, false},
		{`echo a\ b`, []string{"echo", "a b"}, false},
		{`echo ''`, []string{"echo", ""}, false},
		{`a"b c"d`, []string{"ab cd"}, false},
		{`echo 'it''s'`, []string{"echo", "its"}, false},
		{"", nil, false},
		{`echo "open`, nil, true},
		{`echo 'open`, nil, true},
		{`echo \`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			got, err := SplitCommand(tt.cmd)
			if tt.wantErr {
				if !errors.Is(err, ErrCommand) {
					t.Errorf("got %q, %v; want ErrCommand", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("args (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExpandCommand(t *testing.T) {
	// A value with blanks and quotes stays one argument.
	got, err := ExpandCommand(`start.sh --name '{execution_name}' --peer={dns_name#db0}`,
		Vars{"execution_name": `my "big" job`, "dns_name#db0": "db0-1-prod"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"start.sh", "--name", `my "big" job`, "--peer=db0-1-prod"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
	if _, err := ExpandCommand("run {nope}", Vars{}); !errors.Is(err, ErrTemplate) {
		t.Errorf("got %v, want ErrTemplate", err)
	}
	if _, err := ExpandCommand("run 'x", Vars{}); !errors.Is(err, ErrCommand) {
		t.Errorf("got %v, want ErrCommand", err)
	}
}

func TestImageRef(t *testing.T) {
	tests := []struct{ in, want string }{
		{"busybox", "busybox:latest"},
		{"zapps/spark-master", "zapps/spark-master:latest"},
		{"zapps/spark-master:10396", "zapps/spark-master:10396"},
		{"zoe/busybox:test", "zoe/busybox:test"},
		{"registry.example.com:5000/team/img", "registry.example.com:5000/team/img:latest"},
		{"docker.io/library/debian:12", "debian:12"},
		{"busybox@sha256:7b3ccabffc97de872a30dfd234fd972a66d247c8cfc69b0550f276481852627c", "busybox@sha256:7b3ccabffc97de872a30dfd234fd972a66d247c8cfc69b0550f276481852627c"},
		{"Not Valid", "Not Valid"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := ImageRef(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
