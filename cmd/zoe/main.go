// Command zoe runs the Zoe server, its tools and its command-line client.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one sub-command of zoe. run receives the arguments after the
// sub-command's name and returns the process exit status.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() map[string]command {
	return map[string]command{
		"serve":    {"run the portal, the JSON API and the scheduler", runServe},
		"config":   {"print the effective configuration (secrets masked)", runConfig},
		"zapp":     {"work with ZApp descriptions (zoe zapp validate FILE_OR_DIR...)", runZapp},
		"simulate": {"replay a workload trace through the scheduler in virtual time", runSimulate},
		"version":  {"print the version", runVersion},

		// The client of the JSON API (client*.go).
		"login":     {"sign in to a Zoe server and keep an API token in your config dir", clientCommand("login", runLogin)},
		"info":      {"the server's version and deployment", clientCommand("info", runInfo)},
		"shop":      {"the ZApps you may start (zoe shop ZAPP for one)", clientCommand("shop", runShop)},
		"start":     {"start a ZApp of the shop or a description file", clientCommand("start", runStart)},
		"ls":        {"your executions (--all: everyone's, for admins)", clientCommand("ls", runLs)},
		"show":      {"an execution with its services and endpoints", clientCommand("show", runShow)},
		"get":       {"the same as show", clientCommand("get", runShow)},
		"logs":      {"a service's output (-f to follow)", clientCommand("logs", runLogs)},
		"terminate": {"terminate an execution", clientCommand("terminate", runTerminate)},
		"extend":    {"reset a running execution's idle deadline (not its run-time limit)", clientCommand("extend", runExtend)},
		"restart":   {"start an execution again with the same description", clientCommand("restart", runRestart)},
		"rm":        {"delete the records of ended executions", clientCommand("rm", runRm)},
		"stats":     {"hosts, queue and counters of the scheduler", clientCommand("stats", runStats)},
		"users":     {"manage users (admins)", clientCommand("users", runUsers)},
		"quotas":    {"manage quotas (admins)", clientCommand("quotas", runQuotas)},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "zoe: unknown command %q\n\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	return c.run(args[1:], stdout, stderr)
}

func usage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "Usage: zoe <command> [options]\n\nCommands:")
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'zoe <command> --help' for a command's options.")
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func runVersion(_ []string, stdout, _ io.Writer) int {
	fmt.Fprintln(stdout, "zoe", version)
	return 0
}
