package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// The client's exit statuses, which scripts may rely on.
const (
	exitOK    = 0
	exitAPI   = 1 // the server refused, or could not be reached
	exitUsage = 2
)

// errUsage marks a command line the client cannot run; the message has
// been printed with the usage.
var errUsage = errors.New("usage")

// apiCallError is the API's error answer.
type apiCallError struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
	Fields  []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"fields"`
}

func (e *apiCallError) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	if len(e.Fields) > 1 {
		b.Reset()
		b.WriteString("invalid request:")
		for _, f := range e.Fields {
			fmt.Fprintf(&b, "\n  %s: %s", f.Field, f.Message)
		}
	}
	return b.String()
}

// client is the `zoe` command-line client of one invocation: where it
// reads and writes, its environment and the API it talks to.
type client struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// rcPath is the configuration file: <user config dir>/zoe/zoerc, or
	// the original client's ~/.zoerc when only that one exists.
	rcPath string
	http   *http.Client

	// Set from the flags, the environment and rcPath by setup.
	base     string
	token    string
	user     string // HTTP Basic, for login only
	password string
	json     bool
}

// newClient is the client of the real process.
func newClient(stdout, stderr io.Writer) *client {
	return &client{
		stdin: os.Stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv,
		rcPath: rcLocation(), http: &http.Client{},
	}
}

// rcLocation is where the client keeps its URL and token.
func rcLocation() string {
	home, _ := os.UserHomeDir()
	legacy := filepath.Join(home, ".zoerc")
	dir, err := os.UserConfigDir()
	if err != nil {
		return legacy
	}
	p := filepath.Join(dir, "zoe", "zoerc")
	if _, err := os.Stat(p); err != nil {
		if _, lerr := os.Stat(legacy); lerr == nil {
			return legacy
		}
	}
	return p
}

// clientCommand adapts a client sub-command to the command table.
func clientCommand(name string, fn func(c *client, args []string) error) func(args []string, stdout, stderr io.Writer) int {
	return func(args []string, stdout, stderr io.Writer) int {
		return newClient(stdout, stderr).run(name, fn, args)
	}
}

// run runs fn and turns its error into an exit status.
func (c *client) run(name string, fn func(c *client, args []string) error, args []string) int {
	err := fn(c, args)
	var ce *apiCallError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.As(err, &ce):
		fmt.Fprintf(c.stderr, "zoe %s: %s\n", name, ce)
		return exitAPI
	}
	fmt.Fprintf(c.stderr, "zoe %s: %v\n", name, err)
	return exitAPI
}

// flags returns a flag set with the options every client command has.
func (c *client) flags(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("zoe "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "Usage: zoe %s\n\nOptions:\n", usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.base, "url", "", "Zoe's address, e.g. https://zoe.example.org (default $ZOE_URL, then url in the config file written by zoe login)")
	fs.StringVar(&c.token, "token", "", "API token (default $ZOE_TOKEN, then token in the config file written by zoe login)")
	fs.BoolVar(&c.json, "json", false, "print the API's JSON instead of tables")
	return fs
}

// parse parses args with fs, allowing options after the arguments, and
// checks the number of arguments.
func (c *client) parse(fs *flag.FlagSet, args []string, minArgs, maxArgs int) ([]string, error) {
	var pos, rest []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, rest = args[:i], args[i+1:]
	}
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	pos = append(pos, rest...)
	if len(pos) < minArgs || (maxArgs >= 0 && len(pos) > maxArgs) {
		fs.Usage()
		return nil, errUsage
	}
	return pos, c.setup()
}

// setup completes the options from the environment and ~/.zoerc: flags
// win over ZOE_URL and ZOE_TOKEN, which win over the file.
func (c *client) setup() error {
	if c.base == "" {
		c.base = c.getenv("ZOE_URL")
	}
	if c.token == "" {
		c.token = c.getenv("ZOE_TOKEN")
	}
	if c.base == "" || c.token == "" {
		rc, err := readRC(c.rcPath)
		if err != nil {
			return err
		}
		if c.base == "" {
			c.base = rc["url"]
		}
		if c.token == "" {
			c.token = rc["token"]
		}
	}
	if c.base == "" {
		return errors.New("no Zoe address: give --url, set ZOE_URL or run zoe login")
	}
	u, err := url.Parse(c.base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", c.base)
	}
	c.base = strings.TrimRight(c.base, "/")
	return nil
}

// readRC reads "key = value" lines; a missing file is empty.
func readRC(path string) (map[string]string, error) {
	m := map[string]string{}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: want key = value", path, i+1)
		}
		m[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return m, nil
}

// writeRC saves the address and token for the next commands, readable by
// the user alone: the token is as good as the password.
func writeRC(path, base, token string) error {
	body := fmt.Sprintf("# written by zoe login\nurl = %s\ntoken = %s\n", base, token)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write configuration: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		return fmt.Errorf("write configuration: %w", err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fmt.Errorf("write configuration: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write configuration: %w", err)
	}
	return nil
}

// request sends a request to the API and returns the response; an error
// answer is an *apiCallError.
func (c *client) request(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+"/api/v1"+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	switch {
	case c.user != "":
		req.SetBasicAuth(c.user, c.password)
	case c.token != "":
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach Zoe: %w", err)
	}
	if resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var eb struct {
		Error *apiCallError `json:"error"`
	}
	if json.Unmarshal(data, &eb) != nil || eb.Error == nil {
		return nil, &apiCallError{Status: resp.StatusCode, Code: "http", Message: fmt.Sprintf("%s: %s", resp.Status, strings.TrimSpace(string(data)))}
	}
	eb.Error.Status = resp.StatusCode
	if resp.StatusCode == http.StatusUnauthorized && eb.Error.Code == "unauthorized" {
		eb.Error.Message += " (run zoe login, or set ZOE_TOKEN)"
	}
	return nil, eb.Error
}

// call sends a request and decodes the JSON answer into out (when not
// nil); with --json it also prints the answer as it came.
func (c *client) call(method, path string, body, out any) error {
	raw, err := c.callRaw(method, path, body)
	if err != nil {
		return err
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("unexpected answer from Zoe: %w", err)
		}
	}
	return nil
}

func (c *client) callRaw(method, path string, body any) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := c.request(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// printJSON prints an API answer for scripts.
func (c *client) printJSON(raw []byte) {
	var b bytes.Buffer
	if json.Indent(&b, raw, "", "  ") != nil {
		b.Reset()
		b.Write(raw)
	}
	if !bytes.HasSuffix(b.Bytes(), []byte("\n")) {
		b.WriteByte('\n')
	}
	_, _ = c.stdout.Write(b.Bytes())
}

// get fetches path into out, printing the JSON with --json; it reports
// whether the caller should print a table.
func (c *client) get(path string, out any) (bool, error) {
	raw, err := c.callRaw(http.MethodGet, path, nil)
	if err != nil {
		return false, err
	}
	if c.json {
		c.printJSON(raw)
		return false, nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return false, fmt.Errorf("unexpected answer from Zoe: %w", err)
	}
	return true, nil
}

// send is get for a request with a body.
func (c *client) send(method, path string, body, out any) (bool, error) {
	raw, err := c.callRaw(method, path, body)
	if err != nil {
		return false, err
	}
	if c.json {
		if len(raw) > 0 {
			c.printJSON(raw)
		}
		return false, nil
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return false, fmt.Errorf("unexpected answer from Zoe: %w", err)
		}
	}
	return true, nil
}

// table prints rows aligned in columns.
func (c *client) table(header []string, rows [][]string) {
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	_ = tw.Flush()
}

// prompt asks for a line on stdin.
func (c *client) prompt(r *bufio.Reader, question string) (string, error) {
	fmt.Fprint(c.stderr, question)
	line, err := r.ReadString('\n')
	if err != nil && (line == "" || !errors.Is(err, io.EOF)) {
		return "", fmt.Errorf("read %s: %w", strings.TrimSuffix(strings.TrimSpace(question), ":"), err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// localTime shows an API time in the local zone, "-" when absent.
func localTime(s string) string {
	if s == "" {
		return "-"
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// keyValues collects repeated K=V options.
type keyValues []string

func (kv *keyValues) String() string { return strings.Join(*kv, ",") }

func (kv *keyValues) Set(v string) error {
	if !strings.Contains(v, "=") {
		return fmt.Errorf("want KEY=VALUE, not %q", v)
	}
	*kv = append(*kv, v)
	return nil
}

// listValues collects repeated or comma-separated options.
type listValues []string

func (l *listValues) String() string { return strings.Join(*l, ",") }

func (l *listValues) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}
