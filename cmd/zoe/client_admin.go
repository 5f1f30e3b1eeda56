package main

import (
	"bufio"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

type cliUser struct {
	ID          int64  `json:"id"`
	Username    string `json:"username"`
	Role        string `json:"role"`
	Source      string `json:"source"`
	Email       string `json:"email"`
	Enabled     bool   `json:"enabled"`
	Quota       string `json:"quota"`
	LastLoginAt string `json:"last_login_at"`
}

type cliQuota struct {
	ID                   int64   `json:"id"`
	Name                 string  `json:"name"`
	ConcurrentExecutions int     `json:"concurrent_executions"`
	MemoryHuman          string  `json:"memory_human"`
	Cores                float64 `json:"cores"`
	RuntimeLimitHuman    string  `json:"runtime_limit_human"`
}

const usersUsage = `users ls
       zoe users show NAME
       zoe users create [--role ROLE] [--email E] [--quota Q] [--password-stdin] NAME
       zoe users update [--role ROLE] [--email E] [--quota Q] [--enable|--disable] [--password-stdin] NAME
       zoe users rm NAME`

// runUsers is `zoe users`, for admins.
func runUsers(c *client, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(c.stderr, "Usage: zoe %s\n", usersUsage)
		if len(args) == 0 {
			return errUsage
		}
		return flag.ErrHelp
	}
	verb, args := args[0], args[1:]
	fs := c.flags("users "+verb, usersUsage)
	switch verb {
	case "ls":
		if _, err := c.parse(fs, args, 0, 0); err != nil {
			return err
		}
		var list struct {
			Users []cliUser `json:"users"`
		}
		if ok, err := c.get("/users", &list); !ok {
			return err
		}
		rows := [][]string{}
		for _, u := range list.Users {
			rows = append(rows, []string{u.Username, u.Role, u.Source, strconv.FormatBool(u.Enabled), u.Quota, orDash(u.Email), localTime(u.LastLoginAt)})
		}
		c.table([]string{"USERNAME", "ROLE", "SOURCE", "ENABLED", "QUOTA", "EMAIL", "LAST LOGIN"}, rows)
		return nil
	case "show":
		pos, err := c.parse(fs, args, 1, 1)
		if err != nil {
			return err
		}
		var u cliUser
		if ok, err := c.get("/users/"+url.PathEscape(pos[0]), &u); !ok {
			return err
		}
		c.printUser(u)
		return nil
	case "create", "update":
		role := fs.String("role", "", "guest, user or admin (default user when creating)")
		email := fs.String("email", "", "e-mail address")
		quota := fs.String("quota", "", "quota name (default: the default quota)")
		pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin instead of asking")
		setPassword := fs.Bool("password", false, "update: ask for a new password")
		enable := fs.Bool("enable", false, "update: enable the account")
		disable := fs.Bool("disable", false, "update: disable the account")
		pos, err := c.parse(fs, args, 1, 1)
		if err != nil {
			return err
		}
		body := map[string]any{}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if set["role"] {
			body["role"] = *role
		}
		if set["email"] {
			body["email"] = *email
		}
		if set["quota"] {
			body["quota"] = *quota
		}
		if *enable && *disable {
			fmt.Fprintln(c.stderr, "zoe users update: --enable or --disable, not both")
			return errUsage
		}
		if *enable || *disable {
			body["enabled"] = *enable
		}
		if verb == "create" || *setPassword || *pwStdin {
			question := "Password for " + pos[0] + ": "
			if *pwStdin {
				question = ""
			}
			pw, err := c.prompt(bufio.NewReader(c.stdin), question)
			if err != nil {
				return err
			}
			body["password"] = pw
		}
		method, path, status := http.MethodPatch, "/users/"+url.PathEscape(pos[0]), "updated"
		if verb == "create" {
			body["username"] = pos[0]
			method, path, status = http.MethodPost, "/users", "created"
		}
		var u cliUser
		if ok, err := c.send(method, path, body, &u); !ok {
			return err
		}
		fmt.Fprintf(c.stdout, "User %s %s\n", u.Username, status)
		c.printUser(u)
		return nil
	case "rm":
		pos, err := c.parse(fs, args, 1, -1)
		if err != nil {
			return err
		}
		for _, name := range pos {
			if err := c.call(http.MethodDelete, "/users/"+url.PathEscape(name), nil, nil); err != nil {
				return fmt.Errorf("user %s: %w", name, err)
			}
			if !c.json {
				fmt.Fprintf(c.stdout, "User %s deleted\n", name)
			}
		}
		return nil
	}
	fmt.Fprintf(c.stderr, "zoe users: unknown command %q\nUsage: zoe %s\n", verb, usersUsage)
	return errUsage
}

func (c *client) printUser(u cliUser) {
	fmt.Fprintf(c.stdout, "Username:   %s\nRole:       %s\nSource:     %s\nEnabled:    %t\nQuota:      %s\nE-mail:     %s\nLast login: %s\n",
		u.Username, u.Role, u.Source, u.Enabled, u.Quota, orDash(u.Email), localTime(u.LastLoginAt))
}

const quotasUsage = `quotas ls
       zoe quotas create [--executions N] [--memory SIZE] [--cores N] [--runtime DURATION] NAME
       zoe quotas update [--name NEW] [--executions N] [--memory SIZE] [--cores N] [--runtime DURATION] NAME
       zoe quotas rm NAME
  0 is unlimited; SIZE like 16GiB, DURATION like 12h.`

// runQuotas is `zoe quotas`, for admins.
func runQuotas(c *client, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(c.stderr, "Usage: zoe %s\n", quotasUsage)
		if len(args) == 0 {
			return errUsage
		}
		return flag.ErrHelp
	}
	verb, args := args[0], args[1:]
	fs := c.flags("quotas "+verb, quotasUsage)
	switch verb {
	case "ls":
		if _, err := c.parse(fs, args, 0, 0); err != nil {
			return err
		}
		var list struct {
			Quotas []cliQuota `json:"quotas"`
		}
		if ok, err := c.get("/quotas", &list); !ok {
			return err
		}
		rows := [][]string{}
		for _, q := range list.Quotas {
			rows = append(rows, []string{q.Name, unlimited(strconv.Itoa(q.ConcurrentExecutions)), q.MemoryHuman, unlimited(fmt.Sprintf("%g", q.Cores)), q.RuntimeLimitHuman})
		}
		c.table([]string{"NAME", "EXECUTIONS", "MEMORY", "CORES", "RUN TIME"}, rows)
		return nil
	case "create", "update":
		name := fs.String("name", "", "update: a new name")
		execs := fs.Int("executions", 0, "concurrent executions")
		memory := fs.String("memory", "", "memory reserved by all executions at once, e.g. 16GiB")
		cores := fs.String("cores", "", "cores reserved by all executions at once")
		runtime := fs.String("runtime", "", "run-time limit of each execution, e.g. 12h")
		pos, err := c.parse(fs, args, 1, 1)
		if err != nil {
			return err
		}
		body := map[string]any{}
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "name":
				body["name"] = *name
			case "executions":
				body["concurrent_executions"] = *execs
			case "memory":
				body["memory"] = *memory
			case "cores":
				body["cores"] = *cores
			case "runtime":
				body["runtime_limit"] = *runtime
			}
		})
		method, path, status := http.MethodPatch, "/quotas/"+url.PathEscape(pos[0]), "updated"
		if verb == "create" {
			body["name"] = pos[0]
			method, path, status = http.MethodPost, "/quotas", "created"
		}
		var q cliQuota
		if ok, err := c.send(method, path, body, &q); !ok {
			return err
		}
		fmt.Fprintf(c.stdout, "Quota %s %s: %s executions, %s, %s cores, run time %s\n", q.Name, status,
			unlimited(strconv.Itoa(q.ConcurrentExecutions)), q.MemoryHuman, unlimited(fmt.Sprintf("%g", q.Cores)), q.RuntimeLimitHuman)
		return nil
	case "rm":
		pos, err := c.parse(fs, args, 1, -1)
		if err != nil {
			return err
		}
		for _, name := range pos {
			if err := c.call(http.MethodDelete, "/quotas/"+url.PathEscape(name), nil, nil); err != nil {
				return fmt.Errorf("quota %s: %w", name, err)
			}
			if !c.json {
				fmt.Fprintf(c.stdout, "Quota %s deleted\n", name)
			}
		}
		return nil
	}
	fmt.Fprintf(c.stderr, "zoe quotas: unknown command %q\nUsage: zoe %s\n", verb, quotasUsage)
	return errUsage
}

func unlimited(s string) string {
	if s == "0" {
		return "unlimited"
	}
	return s
}
