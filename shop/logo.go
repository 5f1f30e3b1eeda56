package shop

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultLogo is the logo file of a manifest entry that names none.
const DefaultLogo = "logo.png"

// Logo errors.
var (
	ErrNoLogo  = errors.New("no logo")
	ErrBadLogo = errors.New("bad logo")
)

// logoTypes are the logo formats browsers show safely as images; SVG is
// served by the portal with a restrictive Content-Security-Policy.
var logoTypes = map[string]string{
	".png":  "image/png",
	".svg":  "image/svg+xml",
	".jpg":  "image/jpeg",
	".jpeg": "image/jpeg",
}

// LogoType returns the Content-Type for a logo path returned by Logo.
func LogoType(path string) string {
	return logoTypes[strings.ToLower(filepath.Ext(path))]
}

// resolveLogo returns the absolute path of the logo name inside folder,
// refusing anything that leaves the folder, by ".." or by a symbolic link,
// and anything but a regular PNG, SVG or JPEG file.
func resolveLogo(folder, name string) (string, error) {
	if _, ok := logoTypes[strings.ToLower(filepath.Ext(name))]; !ok {
		return "", fmt.Errorf("%w: %q is not a .png, .svg or .jpg file", ErrBadLogo, name)
	}
	path, err := inside(folder, name)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("%w: %s does not exist", ErrNoLogo, name)
	case err != nil:
		return "", fmt.Errorf("%w: %w", ErrBadLogo, err)
	case !fi.Mode().IsRegular():
		return "", fmt.Errorf("%w: %s is not a regular file", ErrBadLogo, name)
	}
	return path, nil
}

// inside resolves name relative to folder and checks that the result, with
// symbolic links followed, is still inside folder. Manifests are written
// by admins, but a mistake (or a copied folder) must not let the portal
// serve /etc/passwd.
func inside(folder, name string) (string, error) {
	if name == "" || filepath.IsAbs(name) || strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("%w: %q must be a file name relative to the ZApp folder", ErrOutside, name)
	}
	root, err := filepath.EvalSymlinks(folder)
	if err != nil {
		return "", fmt.Errorf("resolve folder: %w", err)
	}
	root, err = filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("resolve folder: %w", err)
	}
	path := filepath.Join(root, filepath.Clean(name))
	if !within(root, path) {
		return "", fmt.Errorf("%w: %q leaves the ZApp folder", ErrOutside, name)
	}
	target, err := filepath.EvalSymlinks(path)
	if errors.Is(err, os.ErrNotExist) {
		return path, nil // reported by the caller's read or stat
	}
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", name, err)
	}
	if !within(root, target) {
		return "", fmt.Errorf("%w: %q is a link to outside the ZApp folder", ErrOutside, name)
	}
	return target, nil
}

// ErrOutside reports a manifest file name that leaves its ZApp folder.
var ErrOutside = errors.New("outside the ZApp folder")

func within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
