package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/zoe-analytics/zoe/shop"
	"github.com/zoe-analytics/zoe/zapp"
)

const zappUsage = `Usage: zoe zapp validate [--user] FILE_OR_DIR...

Checks ZApps offline, without a Zoe server:
  FILE.json   a ZApp description (format v3)
  DIR         a shop folder (it has a manifest.json): the manifest, its
              descriptions, readmes, logos and parameters
  DIR         a whole shop (a directory of shop folders)

Prints "PATH: JSON.PATH: MESSAGE" for every problem and "ok PATH" for every
good description; exits 1 when there is any problem, 2 on a usage error.

Options:
`

// runZapp is `zoe zapp`.
func runZapp(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("zoe zapp validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, zappUsage)
		fs.PrintDefaults()
	}
	user := fs.Bool("user", false, "check .json files with the rules for descriptions users submit (no host volumes, ...) instead of the shop's")
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fs.Usage()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] != "validate" {
		fmt.Fprintf(stderr, "zoe zapp: unknown command %q\n\n", args[0])
		fs.Usage()
		return 2
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "zoe zapp validate: name at least one file or directory")
		fs.Usage()
		return 2
	}
	trust := zapp.TrustShop
	if *user {
		trust = zapp.TrustUser
	}
	v := &validation{out: stdout}
	for _, path := range fs.Args() {
		v.check(path, trust)
	}
	if v.failed {
		return 1
	}
	return 0
}

// validation prints the findings of `zoe zapp validate`.
type validation struct {
	out    io.Writer
	failed bool
}

func (v *validation) problem(path, msg string) {
	v.failed = true
	fmt.Fprintf(v.out, "%s: %s\n", path, msg)
}

func (v *validation) ok(path string) {
	fmt.Fprintf(v.out, "ok %s\n", path)
}

func (v *validation) check(path string, trust zapp.Trust) {
	fi, err := os.Stat(path)
	if err != nil {
		v.problem(path, unwrapPathError(err).Error())
		return
	}
	if !fi.IsDir() {
		v.description(path, trust)
		return
	}
	if _, err := os.Stat(filepath.Join(path, shop.ManifestFile)); err == nil {
		v.folder(path)
		return
	}
	v.shop(path)
}

func (v *validation) description(path string, trust zapp.Trust) {
	data, err := os.ReadFile(path)
	if err != nil {
		v.problem(path, unwrapPathError(err).Error())
		return
	}
	if _, err := zapp.Parse(data, trust); err != nil {
		var errs zapp.Errors
		if !errors.As(err, &errs) {
			v.problem(path, err.Error())
			return
		}
		for _, e := range errs {
			v.problem(path, e.Error())
		}
		return
	}
	v.ok(path)
}

// folder checks one shop folder. Problems name files relative to the shop
// ("<folder>/manifest.json"); they are printed relative to path instead.
func (v *validation) folder(path string) {
	zapps, problems := shop.LoadFolder(path)
	id := folderID(path)
	for _, p := range problems {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.Path, id), "/")
		v.problem(filepath.Join(path, filepath.FromSlash(rel)), p.Message)
	}
	for _, z := range zapps {
		v.ok(filepath.Join(path, z.DescriptionFile))
	}
}

func (v *validation) shop(path string) {
	zapps, problems := shop.Load(path)
	if len(zapps) == 0 && len(problems) == 0 {
		v.problem(path, "not a description, a shop folder (no "+shop.ManifestFile+") or a shop (no folder with one)")
		return
	}
	for _, p := range problems {
		v.problem(filepath.Join(path, filepath.FromSlash(p.Path)), p.Message)
	}
	for _, z := range zapps {
		v.ok(filepath.Join(path, z.Folder, z.DescriptionFile))
	}
}

func folderID(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return filepath.Base(path)
}

// unwrapPathError drops the path from a file error: it is printed first.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
