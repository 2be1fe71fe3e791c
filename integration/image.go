package integration

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

// ImageEnv names the environment variable that selects the Redis image.
const ImageEnv = "ASYNCREDIS_REDIS_IMAGE"

// LocalImage is the tag of the image built from the host's Redis binaries.
const LocalImage = "asyncredis/redis-local:latest"

var imageState struct {
	mu   sync.Mutex // guards the fields below
	name string     // chosen image, once known
}

// Image returns the Redis image the harness runs, preparing it if needed:
// the image named by ASYNCREDIS_REDIS_IMAGE if set; otherwise LocalImage,
// built once from the host's redis-server and redis-cli (no registry is
// needed, none is assumed reachable). When the host has no redis-server
// and can install packages (root or password-less sudo, apt-get), it
// installs Debian's redis-server and redis-tools first. Concurrent
// callers, in this process or others (test binaries run in parallel),
// build it once: the build holds a lock file. An error says in one line
// what to run.
func Image(ctx context.Context) (string, error) {
	imageState.mu.Lock()
	defer imageState.mu.Unlock()
	if imageState.name != "" {
		return imageState.name, nil
	}
	if name := os.Getenv(ImageEnv); name != "" {
		imageState.name = name
		return name, nil
	}
	cli, err := dockerClient(ctx)
	if err != nil {
		return "", err
	}
	if _, err := cli.ImageInspect(ctx, LocalImage); err == nil {
		imageState.name = LocalImage
		return LocalImage, nil
	}
	unlock, err := lockFile(ctx, filepath.Join(os.TempDir(), "asyncredis-redis-image.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := cli.ImageInspect(ctx, LocalImage); err != nil { // another process may have built it meanwhile
		if err := ensureRedisBinaries(ctx); err != nil {
			return "", err
		}
		if err := BuildLocalImage(ctx, cli, LocalImage); err != nil {
			return "", err
		}
		if _, err := cli.ImageInspect(ctx, LocalImage); err != nil {
			return "", fmt.Errorf("integration: image %s was imported but cannot be found: %w", LocalImage, err)
		}
	}
	imageState.name = LocalImage
	return LocalImage, nil
}

// errNoRedisBinaries says what to run when the image cannot be built.
var errNoRedisBinaries = errors.New("integration: no Redis image " + LocalImage +
	" and no redis-server on this host to build it from: run `sudo apt-get install -y redis-server redis-tools` (or set " + ImageEnv + " to an image you have)")

// ensureRedisBinaries installs Debian's redis-server and redis-tools when
// redis-server or redis-cli is missing and this process may install
// packages.
func ensureRedisBinaries(ctx context.Context) error {
	if haveRedisBinaries() {
		return nil
	}
	var prefix []string
	switch {
	case os.Geteuid() == 0:
	case exec.CommandContext(ctx, "sudo", "-n", "true").Run() == nil:
		prefix = []string{"sudo", "-n"}
	default:
		return errNoRedisBinaries
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return errNoRedisBinaries
	}
	fmt.Fprintln(os.Stderr, "integration: installing Debian's redis-server and redis-tools to build the test image "+LocalImage+" (once)...")
	apt := func(args ...string) error {
		argv := append(append(prefix, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"), args...)
		out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, lastLine(out))
		}
		return nil
	}
	install := []string{"install", "-y", "-qq", "--no-install-recommends", "redis-server", "redis-tools"}
	if err := apt(install...); err != nil {
		if err := apt("update", "-qq"); err != nil {
			return fmt.Errorf("integration: %w (%v)", errNoRedisBinaries, err)
		}
		if err := apt(install...); err != nil {
			return fmt.Errorf("integration: %w (%v)", errNoRedisBinaries, err)
		}
	}
	if !haveRedisBinaries() {
		return errNoRedisBinaries
	}
	return nil
}

func haveRedisBinaries() bool {
	_, e1 := exec.LookPath("redis-server")
	_, e2 := exec.LookPath("redis-cli")
	return e1 == nil && e2 == nil
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// BuildLocalImage imports a minimal root filesystem holding the host's
// redis-server and redis-cli and every shared library they load, tagged ref.
// It needs ldd on the host; nothing is pulled.
func BuildLocalImage(ctx context.Context, cli client.APIClient, ref string) error {
	server, err := exec.LookPath("redis-server")
	if err != nil {
		return fmt.Errorf("integration: build image: %w (install Debian's redis-server)", err)
	}
	cliBin, err := exec.LookPath("redis-cli")
	if err != nil {
		return fmt.Errorf("integration: build image: %w (install Debian's redis-tools)", err)
	}
	files := map[string]string{ // path in image -> path on host
		"/usr/local/bin/redis-server": server,
		"/usr/local/bin/redis-cli":    cliBin,
	}
	for _, bin := range []string{server, cliBin} {
		libs, err := sharedLibraries(ctx, bin)
		if err != nil {
			return err
		}
		for _, l := range libs {
			files[l] = l
		}
	}
	if _, err := os.Stat("/etc/ld.so.cache"); err == nil {
		files["/etc/ld.so.cache"] = "/etc/ld.so.cache"
	}

	var buf bytes.Buffer
	if err := writeRootfs(&buf, files); err != nil {
		return fmt.Errorf("integration: build image: %w", err)
	}
	rc, err := cli.ImageImport(ctx, image.ImportSource{Source: &buf, SourceName: "-"}, ref, image.ImportOptions{
		Message: "asyncredis test image from the host's redis-server",
		Changes: []string{
			"ENV PATH=/usr/local/bin:/usr/bin:/bin",
			"WORKDIR /data",
			`CMD ["redis-server"]`,
		},
	})
	if err != nil {
		return fmt.Errorf("integration: import image: %w", err)
	}
	defer rc.Close()
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return fmt.Errorf("integration: import image: %w", err)
	}
	return nil
}

// sharedLibraries lists the absolute paths of the libraries bin loads,
// dynamic loader included, as ldd reports them.
func sharedLibraries(ctx context.Context, bin string) ([]string, error) {
	out, err := exec.CommandContext(ctx, "ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("integration: ldd %s: %w", bin, err)
	}
	var libs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 3 && fields[1] == "=>" && strings.HasPrefix(fields[2], "/"):
			libs = append(libs, fields[2])
		case len(fields) >= 1 && strings.HasPrefix(fields[0], "/"):
			libs = append(libs, fields[0]) // the loader: "/lib64/ld-linux-x86-64.so.2 (0x...)"
		}
	}
	if len(libs) == 0 {
		return nil, errors.New("integration: ldd listed no libraries for " + bin)
	}
	return libs, nil
}

// writeRootfs writes a tar of files (image path -> host path) with symlinks
// resolved, plus the empty directories Redis expects.
func writeRootfs(w io.Writer, files map[string]string) error {
	tw := tar.NewWriter(w)
	dirs := map[string]bool{"/tmp": true, "/data": true, "/run/redis": true, "/etc": true}
	for p := range files {
		for d := filepath.Dir(p); d != "/"; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	names := make([]string, 0, len(dirs))
	for d := range dirs {
		names = append(names, d)
	}
	sort.Strings(names) // parents before children
	for _, d := range names {
		mode := int64(0o755)
		if d == "/tmp" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(d, "/") + "/", Mode: mode}); err != nil {
			return err
		}
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		data, err := os.ReadFile(files[p]) // follows symlinks
		if err != nil {
			return err
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(p, "/"), Mode: 0o755, Size: int64(len(data))}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	return tw.Close()
}
