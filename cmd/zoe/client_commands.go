package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// The API's shapes, as far as the tables need them.
type (
	cliExecution struct {
		ID          int64        `json:"id"`
		Name        string       `json:"name"`
		Owner       string       `json:"owner"`
		ZApp        string       `json:"zapp"`
		Status      string       `json:"status"`
		Error       string       `json:"error"`
		SubmittedAt string       `json:"submitted_at"`
		StartedAt   string       `json:"started_at"`
		EndedAt     string       `json:"ended_at"`
		MemoryHuman string       `json:"memory_human"`
		Cores       float64      `json:"cores"`
		Services    []cliService `json:"services"`
		Queue       *struct {
			Position int    `json:"position"`
			Reason   string `json:"reason"`
			Hosts    []struct {
				Host   string `json:"host"`
				Reason string `json:"reason"`
			} `json:"hosts"`
		} `json:"queue"`
		StopsAt *cliStop `json:"stops_at"`
	}
	cliStop struct {
		At     string `json:"at"`
		Reason string `json:"reason"`
	}
	cliService struct {
		Name          string `json:"name"`
		Essential     bool   `json:"essential"`
		Status        string `json:"status"`
		BackendStatus string `json:"backend_status"`
		Host          string `json:"host"`
		ExitCode      *int   `json:"exit_code"`
		Error         string `json:"error"`
		Endpoints     []struct {
			Name      string `json:"name"`
			URL       string `json:"url"`
			ProxyPath string `json:"proxy_path"`
		} `json:"endpoints"`
	}
)

const (
	statusRunning    = "running"
	statusTerminated = "terminated"
	statusError      = "error"
)

// runLogin is `zoe login`: it signs in with a username and password once,
// creates an API token and keeps it in ~/.zoerc for the other commands.
func runLogin(c *client, args []string) error {
	fs := c.flags("login", "login [--url URL] [--user NAME] [--password-stdin]")
	user := fs.String("user", "", "username (asked when not given)")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin")
	name := fs.String("name", "", "name of the API token (default zoe-cli@HOST DATE)")
	if _, err := c.parse(fs, args, 0, 0); err != nil {
		return err
	}
	in := bufio.NewReader(c.stdin)
	var err error
	if *user == "" {
		if *user, err = c.prompt(in, "Username: "); err != nil {
			return err
		}
	}
	question := "Password (it will show as you type): "
	if *pwStdin {
		question = ""
	}
	pw, err := c.prompt(in, question)
	if err != nil {
		return err
	}
	if *name == "" {
		host, _ := os.Hostname()
		*name = fmt.Sprintf("zoe-cli@%s %s", host, time.Now().Format("2006-01-02 15:04:05"))
	}
	c.user, c.password, c.token = *user, pw, ""
	var created struct {
		Secret string `json:"secret"`
	}
	if err := c.call(http.MethodPost, "/me/tokens", map[string]any{"name": *name}, &created); err != nil {
		return err
	}
	if err := writeRC(c.rcPath, c.base, created.Secret); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Signed in to %s as %s; token %q saved in %s\n", c.base, *user, *name, c.rcPath)
	return nil
}

func runInfo(c *client, args []string) error {
	fs := c.flags("info", "info")
	if _, err := c.parse(fs, args, 0, 0); err != nil {
		return err
	}
	var info struct {
		Version    string `json:"version"`
		API        string `json:"api_version"`
		Deployment string `json:"deployment"`
		Format     int    `json:"zapp_format_version"`
	}
	if ok, err := c.get("/info", &info); !ok {
		return err
	}
	fmt.Fprintf(c.stdout, "Zoe %s at %s\nAPI: %s\nDeployment: %s\nZApp format: %d\n", info.Version, c.base, info.API, info.Deployment, info.Format)
	return nil
}

func runShop(c *client, args []string) error {
	fs := c.flags("shop", "shop [ZAPP]")
	pos, err := c.parse(fs, args, 0, 1)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		var list struct {
			ZApps []struct {
				ID, Name, Category, Summary string
			} `json:"zapps"`
		}
		if ok, err := c.get("/shop", &list); !ok {
			return err
		}
		rows := make([][]string, 0, len(list.ZApps))
		for _, z := range list.ZApps {
			rows = append(rows, []string{z.ID, z.Category, z.Name, z.Summary})
		}
		c.table([]string{"ID", "CATEGORY", "NAME", "SUMMARY"}, rows)
		return nil
	}
	var z struct {
		ID, Name, Category, Summary string
		Parameters                  []struct {
			Key, Type, Description string
			ReadableName           string  `json:"readable_name"`
			Default                *string `json:"default"`
			Min, Max               *int64
		} `json:"parameters"`
		Services []struct {
			Name, Image string
			Essential   int `json:"essential_count"`
			Total       int `json:"total_count"`
			Memory      struct {
				MinHuman string `json:"min_human"`
				MaxHuman string `json:"max_human"`
			}
			Cores struct{ Min, Max float64 }
		} `json:"services"`
	}
	if ok, err := c.get("/shop/"+url.PathEscape(pos[0]), &z); !ok {
		return err
	}
	fmt.Fprintf(c.stdout, "%s (%s), %s\n%s\n\nStart it with: zoe start [--param KEY=VALUE] [--memory SERVICE=SIZE] [--cores SERVICE=N] NAME %s\n", z.Name, z.ID, z.Category, z.Summary, z.ID)
	if len(z.Parameters) > 0 {
		fmt.Fprintln(c.stdout, "\nParameters:")
		rows := [][]string{}
		for _, p := range z.Parameters {
			def, bounds := "-", ""
			if p.Default != nil {
				def = *p.Default
			}
			if p.Min != nil && p.Max != nil {
				bounds = fmt.Sprintf(" %d..%d", *p.Min, *p.Max)
			}
			rows = append(rows, []string{p.Key, p.Type + bounds, def, p.ReadableName})
		}
		c.table([]string{"KEY", "TYPE", "DEFAULT", "WHAT"}, rows)
	}
	fmt.Fprintln(c.stdout, "\nServices:")
	rows := [][]string{}
	for _, s := range z.Services {
		rows = append(rows, []string{s.Name, s.Image, fmt.Sprintf("%d/%d", s.Essential, s.Total), s.Memory.MinHuman + " / " + s.Memory.MaxHuman, fmt.Sprintf("%g / %g", s.Cores.Min, s.Cores.Max)})
	}
	c.table([]string{"SERVICE", "IMAGE", "ESSENTIAL/TOTAL", "MEMORY MIN/MAX", "CORES MIN/MAX"}, rows)
	return nil
}

// runStart is `zoe start`: a ZApp of the shop, or a description file.
func runStart(c *client, args []string) error {
	fs := c.flags("start", "start [--wait] [--follow] [--param KEY=VALUE]... [--memory SERVICE=SIZE]... [--cores SERVICE=N]... NAME ZAPP|FILE.json")
	var params, memory, cores keyValues
	fs.Var(&params, "param", "a parameter of the ZApp, KEY=VALUE (repeatable; zoe shop ZAPP lists them)")
	fs.Var(&memory, "memory", "memory reservation of a service, SERVICE=SIZE such as web=2GiB (repeatable)")
	fs.Var(&cores, "cores", "cores reserved for a service, SERVICE=N such as web=1.5 (repeatable)")
	wait := fs.Bool("wait", false, "wait until the execution runs (exit 1 if it fails)")
	follow := fs.Bool("follow", false, "wait, then print the first service's output until it ends (implies --wait)")
	pos, err := c.parse(fs, args, 2, 2)
	if err != nil {
		return err
	}
	body := map[string]any{"name": pos[0]}
	if data, err := os.ReadFile(pos[1]); err == nil {
		if len(params)+len(memory)+len(cores) > 0 {
			fmt.Fprintln(c.stderr, "zoe start: --param, --memory and --cores apply to shop ZApps; edit the description instead")
			return errUsage
		}
		if !json.Valid(data) {
			return fmt.Errorf("%s is not JSON", pos[1])
		}
		body["description"] = json.RawMessage(data)
	} else if strings.HasSuffix(pos[1], ".json") {
		return err
	} else {
		body["zapp"] = pos[1]
		if len(params) > 0 {
			p := map[string]string{}
			for _, kv := range params {
				k, v, _ := strings.Cut(kv, "=")
				p[k] = v
			}
			body["parameters"] = p
		}
		res := map[string]map[string]any{}
		for _, kv := range memory {
			k, v, _ := strings.Cut(kv, "=")
			if res[k] == nil {
				res[k] = map[string]any{}
			}
			res[k]["memory"] = v
		}
		for _, kv := range cores {
			k, v, _ := strings.Cut(kv, "=")
			if res[k] == nil {
				res[k] = map[string]any{}
			}
			res[k]["cores"] = v
		}
		if len(res) > 0 {
			body["resources"] = res
		}
	}
	var e cliExecution
	raw, err := c.callRaw(http.MethodPost, "/executions", body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return fmt.Errorf("unexpected answer from Zoe: %w", err)
	}
	if c.json && !*wait && !*follow {
		c.printJSON(raw)
		return nil
	}
	if !c.json {
		fmt.Fprintf(c.stdout, "Execution %d (%s) %s\n", e.ID, e.Name, e.Status)
	}
	if !*wait && !*follow {
		return nil
	}
	if e, err = c.waitFor(e.ID, statusRunning); err != nil {
		return err
	}
	if !*follow {
		if c.json {
			return c.printExecution(e.ID)
		}
		return nil
	}
	if len(e.Services) == 0 {
		return errors.New("the execution has no services")
	}
	return c.streamLogs(e.ID, e.Services[0].Name, 0, true, false)
}

// waitFor polls execution id until it reaches status, or ends otherwise
// (an error).
func (c *client) waitFor(id int64, status string) (cliExecution, error) {
	last := ""
	for {
		var e cliExecution
		if err := c.call(http.MethodGet, fmt.Sprintf("/executions/%d", id), nil, &e); err != nil {
			return e, err
		}
		if e.Status != last && !c.json {
			fmt.Fprintf(c.stderr, "execution %d: %s", id, e.Status)
			if e.Queue != nil {
				fmt.Fprintf(c.stderr, " (position %d: %s)", e.Queue.Position, e.Queue.Reason)
			}
			fmt.Fprintln(c.stderr)
			last = e.Status
		}
		switch {
		case e.Status == status:
			return e, nil
		case e.Status == statusError:
			return e, fmt.Errorf("execution %d failed: %s", id, e.Error)
		case e.Status == statusTerminated:
			return e, fmt.Errorf("execution %d ended: %s", id, e.Error)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func runLs(c *client, args []string) error {
	fs := c.flags("ls", "ls [--status STATUS]... [--all | --user NAME] [--zapp ID] [--limit N]")
	var status listValues
	fs.Var(&status, "status", "only these states (repeatable or comma-separated; active for every active state)")
	all := fs.Bool("all", false, "everyone's executions (admins)")
	user := fs.String("user", "", "this user's executions (admins)")
	zappID := fs.String("zapp", "", "only executions of this shop ZApp")
	limit := fs.Int("limit", 50, "at most this many, newest first")
	if _, err := c.parse(fs, args, 0, 0); err != nil {
		return err
	}
	q := url.Values{}
	for _, s := range status {
		q.Add("status", s)
	}
	switch {
	case *user != "":
		q.Set("user", *user)
	case !*all:
		var me struct {
			User struct{ Username string } `json:"user"`
		}
		if err := c.call(http.MethodGet, "/me", nil, &me); err != nil {
			return err
		}
		q.Set("user", me.User.Username)
	}
	if *zappID != "" {
		q.Set("zapp", *zappID)
	}
	q.Set("limit", strconv.Itoa(*limit))
	var list struct {
		Executions []cliExecution `json:"executions"`
		Total      int            `json:"total"`
	}
	if ok, err := c.get("/executions?"+q.Encode(), &list); !ok {
		return err
	}
	rows := make([][]string, 0, len(list.Executions))
	for _, e := range list.Executions {
		rows = append(rows, []string{strconv.FormatInt(e.ID, 10), e.Name, e.Owner, orDash(e.ZApp), e.Status, localTime(e.SubmittedAt), e.MemoryHuman, fmt.Sprintf("%g", e.Cores)})
	}
	c.table([]string{"ID", "NAME", "OWNER", "ZAPP", "STATUS", "SUBMITTED", "MEMORY", "CORES"}, rows)
	if list.Total > len(list.Executions) {
		fmt.Fprintf(c.stderr, "(%d of %d shown: use --limit)\n", len(list.Executions), list.Total)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func executionID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%q is not an execution ID", s)
	}
	return id, nil
}

// parseID parses the flags of a command whose one argument is an
// execution ID, and returns the ID.
func (c *client) parseID(fs *flag.FlagSet, args []string) (int64, error) {
	pos, err := c.parse(fs, args, 1, 1)
	if err != nil {
		return 0, err
	}
	return executionID(pos[0])
}

func runShow(c *client, args []string) error {
	fs := c.flags("show", "show ID")
	id, err := c.parseID(fs, args)
	if err != nil {
		return err
	}
	return c.printExecution(id)
}

// printExecution shows an execution with its services and endpoints.
func (c *client) printExecution(id int64) error {
	var e cliExecution
	if ok, err := c.get(fmt.Sprintf("/executions/%d", id), &e); !ok {
		return err
	}
	w := c.stdout
	fmt.Fprintf(w, "Execution %d: %s\nOwner:      %s\nZApp:       %s\nStatus:     %s\n", e.ID, e.Name, e.Owner, orDash(e.ZApp), e.Status)
	if e.Error != "" {
		fmt.Fprintf(w, "Message:    %s\n", e.Error)
	}
	fmt.Fprintf(w, "Submitted:  %s\nStarted:    %s\nEnded:      %s\nReserved:   %s, %g cores\n", localTime(e.SubmittedAt), localTime(e.StartedAt), localTime(e.EndedAt), e.MemoryHuman, e.Cores)
	if e.StopsAt != nil {
		fmt.Fprintf(w, "Stops at:   %s (%s)\n", localTime(e.StopsAt.At), e.StopsAt.Reason)
	}
	if e.Queue != nil {
		fmt.Fprintf(w, "Queue:      position %d: %s\n", e.Queue.Position, e.Queue.Reason)
		for _, h := range e.Queue.Hosts {
			fmt.Fprintf(w, "            %s: %s\n", h.Host, orDash(h.Reason))
		}
	}
	var endpoints [][]string
	rows := [][]string{}
	for _, s := range e.Services {
		exit := "-"
		if s.ExitCode != nil {
			exit = strconv.Itoa(*s.ExitCode)
		}
		rows = append(rows, []string{s.Name, strconv.FormatBool(s.Essential), s.Status, s.BackendStatus, orDash(s.Host), exit, s.Error})
		for _, ep := range s.Endpoints {
			if ep.URL != "" || ep.ProxyPath != "" {
				proxy := ""
				if ep.ProxyPath != "" {
					proxy = c.base + ep.ProxyPath
				}
				endpoints = append(endpoints, []string{s.Name, ep.Name, orDash(proxy), orDash(ep.URL)})
			}
		}
	}
	fmt.Fprintln(w)
	c.table([]string{"SERVICE", "ESSENTIAL", "STATUS", "CONTAINER", "HOST", "EXIT", "ERROR"}, rows)
	if len(endpoints) > 0 {
		fmt.Fprintln(w)
		c.table([]string{"SERVICE", "ENDPOINT", "VIA ZOE", "DIRECT"}, endpoints)
	}
	return nil
}

func runLogs(c *client, args []string) error {
	fs := c.flags("logs", "logs [-f] [--tail N] [--timestamps] ID SERVICE")
	follow := fs.Bool("f", false, "keep printing new output until the service ends (Ctrl-C leaves it running)")
	tail := fs.Int("tail", 0, "only the last N lines (0: all)")
	ts := fs.Bool("timestamps", false, "prefix every line with its time")
	pos, err := c.parse(fs, args, 2, 2)
	if err != nil {
		return err
	}
	id, err := executionID(pos[0])
	if err != nil {
		return err
	}
	return c.streamLogs(id, pos[1], *tail, *follow, *ts)
}

func (c *client) streamLogs(id int64, service string, tail int, follow, timestamps bool) error {
	q := url.Values{}
	if tail > 0 {
		q.Set("tail", strconv.Itoa(tail))
	}
	if follow {
		q.Set("follow", "1")
	}
	if timestamps {
		q.Set("timestamps", "1")
	}
	resp, err := c.request(context.Background(), http.MethodGet, fmt.Sprintf("/executions/%d/services/%s/logs?%s", id, url.PathEscape(service), q.Encode()), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(c.stdout, resp.Body); err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	return nil
}

func runTerminate(c *client, args []string) error {
	fs := c.flags("terminate", "terminate [--wait] ID")
	wait := fs.Bool("wait", false, "wait until its containers are gone")
	id, err := c.parseID(fs, args)
	if err != nil {
		return err
	}
	var e cliExecution
	if ok, err := c.send(http.MethodPost, fmt.Sprintf("/executions/%d/terminate", id), nil, &e); !ok && err != nil {
		return err
	}
	if !*wait {
		if !c.json {
			fmt.Fprintf(c.stdout, "Execution %d: terminating\n", id)
		}
		return nil
	}
	for {
		if err := c.call(http.MethodGet, fmt.Sprintf("/executions/%d", id), nil, &e); err != nil {
			return err
		}
		if e.Status == statusTerminated || e.Status == statusError {
			if !c.json {
				fmt.Fprintf(c.stdout, "Execution %d: %s\n", id, e.Status)
			}
			return nil
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// runExtend is `zoe extend ID`: it resets the idle deadline of a running
// execution, within the run-time limit.
func runExtend(c *client, args []string) error {
	fs := c.flags("extend", "extend ID")
	id, err := c.parseID(fs, args)
	if err != nil {
		return err
	}
	var e cliExecution
	if ok, err := c.send(http.MethodPost, fmt.Sprintf("/executions/%d/extend", id), nil, &e); !ok {
		return err
	}
	if e.StopsAt != nil {
		fmt.Fprintf(c.stdout, "Execution %d: stops at %s (%s)\n", id, localTime(e.StopsAt.At), e.StopsAt.Reason)
	}
	return nil
}

func runRestart(c *client, args []string) error {
	fs := c.flags("restart", "restart ID")
	id, err := c.parseID(fs, args)
	if err != nil {
		return err
	}
	var e cliExecution
	if ok, err := c.send(http.MethodPost, fmt.Sprintf("/executions/%d/restart", id), nil, &e); !ok {
		return err
	}
	fmt.Fprintf(c.stdout, "Execution %d (%s) %s\n", e.ID, e.Name, e.Status)
	return nil
}

func runRm(c *client, args []string) error {
	fs := c.flags("rm", "rm ID...")
	pos, err := c.parse(fs, args, 1, -1)
	if err != nil {
		return err
	}
	for _, p := range pos {
		id, err := executionID(p)
		if err != nil {
			return err
		}
		if err := c.call(http.MethodDelete, fmt.Sprintf("/executions/%d", id), nil, nil); err != nil {
			return fmt.Errorf("execution %d: %w", id, err)
		}
		if !c.json {
			fmt.Fprintf(c.stdout, "Execution %d deleted\n", id)
		}
	}
	return nil
}

func runStats(c *client, args []string) error {
	fs := c.flags("stats", "stats")
	if _, err := c.parse(fs, args, 0, 0); err != nil {
		return err
	}
	var s struct {
		Queue []struct {
			ID       int64
			Name     string
			Owner    string
			Position int
			Reason   string
		} `json:"queue"`
		Running []cliExecution `json:"running"`
		Hosts   []struct {
			Name            string
			Online          bool
			Disabled        bool
			Error           string
			MemoryHuman     string  `json:"memory_human"`
			FreeMemoryHuman string  `json:"free_memory_human"`
			Cores           float64 `json:"cores"`
			FreeCores       float64 `json:"free_cores"`
			Services        int     `json:"services"`
			Containers      int     `json:"containers"`
		} `json:"hosts"`
		Counters struct {
			Submitted, Started, Terminated, Failed int64
		} `json:"counters"`
	}
	if ok, err := c.get("/scheduler", &s); !ok {
		return err
	}
	rows := [][]string{}
	for _, h := range s.Hosts {
		state := "online"
		switch {
		case !h.Online:
			state = "offline: " + h.Error
		case h.Disabled:
			state = "disabled"
		}
		rows = append(rows, []string{h.Name, state, h.FreeMemoryHuman + " of " + h.MemoryHuman, fmt.Sprintf("%g of %g", h.FreeCores, h.Cores), strconv.Itoa(h.Services), strconv.Itoa(h.Containers)})
	}
	c.table([]string{"HOST", "STATE", "FREE MEMORY", "FREE CORES", "ZOE SERVICES", "CONTAINERS"}, rows)
	fmt.Fprintf(c.stdout, "\n%d waiting, %d running; since start: %d submitted, %d started, %d terminated, %d failed\n",
		len(s.Queue), len(s.Running), s.Counters.Submitted, s.Counters.Started, s.Counters.Terminated, s.Counters.Failed)
	if len(s.Queue) > 0 {
		fmt.Fprintln(c.stdout)
		rows = [][]string{}
		for _, q := range s.Queue {
			rows = append(rows, []string{strconv.Itoa(q.Position), strconv.FormatInt(q.ID, 10), orDash(q.Name), orDash(q.Owner), q.Reason})
		}
		c.table([]string{"POSITION", "ID", "NAME", "OWNER", "WAITING BECAUSE"}, rows)
	}
	return nil
}
