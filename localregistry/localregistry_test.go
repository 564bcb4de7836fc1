package localregistry

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// layerTar is an uncompressed layer holding one file.
func layerTar(t testing.TB, file string, content []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: file, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)})
	tw.Write(content)
	tw.Close()
	return b.Bytes()
}

func digestOf(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

// dockerSave writes what `docker save` (Docker 20.10) writes for an image
// of these layers: <id>/layer.tar per layer (a repeated layer as a symlink
// to the first copy), <config digest>.json, manifest.json.
func dockerSave(t testing.TB, dir string, tag string, layers ...[]byte) string {
	t.Helper()
	var diffIDs []string
	for _, l := range layers {
		diffIDs = append(diffIDs, digestOf(l))
	}
	config, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Labels": map[string]string{"tag": tag}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	configName := strings.TrimPrefix(digestOf(config), "sha256:") + ".json"
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	add := func(name string, content []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
		tw.Write(content)
	}
	var paths []string
	first := map[string]string{}
	for i, l := range layers {
		p := fmt.Sprintf("%064d/layer.tar", i)
		if prev, ok := first[diffIDs[i]]; ok {
			tw.WriteHeader(&tar.Header{Name: p, Typeflag: tar.TypeSymlink, Linkname: "../" + prev})
		} else {
			add(p, l)
			first[diffIDs[i]] = p
		}
		paths = append(paths, p)
	}
	add(configName, config)
	manifest, _ := json.Marshal([]map[string]any{{"Config": configName, "RepoTags": []string{"localhost/app:" + tag}, "Layers": paths}})
	add("manifest.json", manifest)
	tw.Close()
	p := filepath.Join(dir, tag+".tar")
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func randomBytes(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func TestImportReusesLayers(t *testing.T) {
	dir := t.TempDir()
	c, err := OpenCache(filepath.Join(dir, "cache"))
	if err != nil {
		t.Fatal(err)
	}
	base := layerTar(t, "base", randomBytes(1, 1<<20))
	app1 := layerTar(t, "app", []byte("v1"))
	app2 := layerTar(t, "app", []byte("v2"))
	im1, err := c.Import(dockerSave(t, dir, "v1", base, app1, base), "app", "v1")
	if err != nil {
		t.Fatal(err)
	}
	if im1.NewLayers != 2 || len(im1.Layers) != 3 || im1.Layers[0].Digest != im1.Layers[2].Digest {
		t.Fatalf("first import: %d new layers of %d: %+v", im1.NewLayers, len(im1.Layers), im1.Layers)
	}
	im2, err := c.Import(dockerSave(t, dir, "v2", base, app2), "app", "v2")
	if err != nil {
		t.Fatal(err)
	}
	if im2.NewLayers != 1 || im2.Layers[0].Digest != im1.Layers[0].Digest {
		t.Fatalf("second import: %d new layers, base %v vs %v", im2.NewLayers, im2.Layers[0], im1.Layers[0])
	}
	got, err := c.Lookup("app", "v1")
	if err != nil || got.Manifest.Digest != im1.Manifest.Digest {
		t.Fatalf("Lookup v1 = %v, %v", got.Manifest.Digest, err)
	}
	if _, err := c.Lookup("app", "v9"); err == nil || !strings.Contains(err.Error(), "app:v9 is not in the image cache") {
		t.Fatalf("Lookup v9: %v", err)
	}
	// A layer whose content does not match its digest is refused.
	bad := dockerSave(t, dir, "bad", layerTar(t, "x", []byte("x")))
	b, _ := os.ReadFile(bad)
	os.WriteFile(bad, bytes.Replace(b, []byte("x\x00"), []byte("y\x00"), 1), 0o600)
	if _, err := c.Import(bad, "app", "bad"); err == nil || !strings.Contains(err.Error(), "content has digest") {
		t.Fatalf("corrupt layer: %v", err)
	}

	// Prune keeps the newest image and drops the blobs only v1 used.
	if ok, err := c.Prune("app", 1); !ok || err != nil {
		t.Fatalf("Prune = %v, %v", ok, err)
	}
	if _, err := c.Lookup("app", "v1"); err == nil {
		t.Fatal("v1 survived Prune")
	}
	if _, err := os.Stat(c.BlobPath(im1.Layers[1].Digest)); err == nil {
		t.Fatal("v1's own layer survived Prune")
	}
	if _, err := os.Stat(c.BlobPath(im2.Layers[0].Digest)); err != nil {
		t.Fatal("Prune removed the base layer v2 uses")
	}
	// An open server keeps Prune away.
	s, err := Serve(c)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := c.Prune("app", 0); ok || err != nil {
		t.Fatalf("Prune while serving = %v, %v; want skipped", ok, err)
	}
	s.Close()
}

// testRegistry imports two images (v2 differs from v1 by one small layer)
// and serves them.
func testRegistry(t testing.TB) (*Cache, *Server, Image, Image) {
	t.Helper()
	dir := t.TempDir()
	c, err := OpenCache(filepath.Join(dir, "cache"))
	if err != nil {
		t.Fatal(err)
	}
	base := layerTar(t, "base", randomBytes(1, 4<<20))
	im1, err := c.Import(dockerSave(t, dir, "v1", base, layerTar(t, "app", randomBytes(2, 64<<10))), "app", "v1")
	if err != nil {
		t.Fatal(err)
	}
	im2, err := c.Import(dockerSave(t, dir, "v2", base, layerTar(t, "app", randomBytes(3, 64<<10))), "app", "v2")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Serve(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return c, s, im1.Image, im2.Image
}

func TestHandlerReadOnly(t *testing.T) {
	_, s, im1, _ := testRegistry(t)
	base := "http://" + s.Addr()
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/v2/", 200},
		{"GET", "/v2/app/manifests/v1", 200},
		{"HEAD", "/v2/app/manifests/v1", 200},
		{"GET", "/v2/app/manifests/" + im1.Manifest.Digest.String(), 200},
		{"GET", "/v2/app/blobs/" + im1.Layers[0].Digest.String(), 200},
		{"GET", "/v2/app/manifests/v9", 404},
		{"GET", "/v2/other/manifests/v1", 404},                               // only cached repos
		{"GET", "/v2/other/blobs/" + im1.Layers[0].Digest.String(), 404},     // not through another name
		{"GET", "/v2/app/blobs/sha256:" + strings.Repeat("0", 64), 404},      // not a blob of the repo
		{"GET", "/v2/app/blobs/../../../etc/passwd", 404},                    // no path games
		{"PUT", "/v2/app/manifests/v3", 405},                                 // read-only
		{"POST", "/v2/app/blobs/uploads/", 405},                              // no uploads
		{"DELETE", "/v2/app/manifests/" + im1.Manifest.Digest.String(), 405}, // no deletes
		{"GET", "/v2/_catalog", 404},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
	resp, err := http.Get(base + "/v2/app/manifests/v1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got := resp.Header.Get("Docker-Content-Digest"); got != im1.Manifest.Digest.String() || digestOf(b) != got {
		t.Fatalf("manifest digest header %s, body %s, want %s", got, digestOf(b), im1.Manifest.Digest)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.docker.distribution.manifest.v2+json" {
		t.Fatalf("manifest Content-Type %q", ct)
	}
}

// pullAsEngine pulls repo:tag from addr as Docker does: the manifest, then
// only the blobs the host lacks (have), each checked against its digest.
func pullAsEngine(t testing.TB, addr, repo, tag string, have map[v1.Hash]bool) {
	t.Helper()
	get := func(path string) []byte {
		resp, err := http.Get("http://" + addr + "/v2/" + repo + "/" + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		return b
	}
	var m v1.Manifest
	if err := json.Unmarshal(get("manifests/"+tag), &m); err != nil {
		t.Fatal(err)
	}
	for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		if have[d.Digest] {
			continue
		}
		if b := get("blobs/" + d.Digest.String()); digestOf(b) != d.Digest.String() {
			t.Fatalf("blob %s: got content of %s", d.Digest, digestOf(b))
		}
		have[d.Digest] = true
	}
}

// forwardTo stands in for a host: a listener on its loopback (here, ours)
// whose connections reach s through a Forward, as the SSH forward does.
func forwardTo(t testing.TB, s *Server) *Forward {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return NewForward(ln, s.Dial)
}

// TestParallelPullsReadEachBlobOncePerHost: hosts pulling at once are all
// served from the one file of each blob, opened once per host that lacks
// it, and never for a host that has it.
func TestParallelPullsReadEachBlobOncePerHost(t *testing.T) {
	_, s, im1, im2 := testRegistry(t)
	const hosts = 8
	var wg sync.WaitGroup
	haves := make([]map[v1.Hash]bool, hosts)
	for i := range hosts {
		haves[i] = map[v1.Hash]bool{}
		if i%2 == 1 { // odd hosts run v1 already
			for _, l := range im1.Layers {
				haves[i][l.Digest] = true
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := forwardTo(t, s)
			defer f.Close()
			pullAsEngine(t, fmt.Sprintf("127.0.0.1:%d", f.Port()), "app", "v2", haves[i])
		}()
	}
	wg.Wait()
	reads := s.Handler.Reads()
	if got := reads[im2.Layers[0].Digest]; got != hosts/2 {
		t.Errorf("base layer read %d times, want %d (the hosts lacking it)", got, hosts/2)
	}
	if got := reads[im2.Layers[1].Digest]; got != hosts {
		t.Errorf("new layer read %d times, want %d", got, hosts)
	}
	if got := reads[im2.Manifest.Digest]; got != hosts {
		t.Errorf("manifest read %d times, want %d", got, hosts)
	}
}

// TestForwardClosed: once a pull's forward is closed, its port takes no
// connection and a transfer in flight is cut.
func TestForwardClosed(t *testing.T) {
	_, s, im1, _ := testRegistry(t)
	f := forwardTo(t, s)
	addr := fmt.Sprintf("127.0.0.1:%d", f.Port())
	resp, err := http.Get("http://" + addr + "/v2/app/blobs/" + im1.Layers[0].Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- f.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs with a transfer in flight")
	}
	if _, err := io.Copy(io.Discard, resp.Body); err == nil {
		t.Fatal("the transfer in flight completed after Close")
	}
	resp.Body.Close()
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("the forwarded port still accepts connections after Close")
	}
	if f.Accepted() != 1 {
		t.Fatalf("Accepted = %d", f.Accepted())
	}
}

// pullBytes is what a pull of repo:tag through a Forward sends to a host
// holding the blobs in have.
func pullBytes(t testing.TB, s *Server, tag string, have map[v1.Hash]bool) int64 {
	f := forwardTo(t, s)
	pullAsEngine(t, fmt.Sprintf("127.0.0.1:%d", f.Port()), "app", tag, have)
	f.Close()
	return f.Sent()
}

// TestRedeployBytes: a host running v1 gets v2 (one changed 64 KiB layer
// on a 4 MiB base) for the changed layer, the manifest and the config,
// within 10% + 64 KiB (HTTP's own bytes), not the whole image.
func TestRedeployBytes(t *testing.T) {
	_, s, im1, im2 := testRegistry(t)
	have := map[v1.Hash]bool{}
	first := pullBytes(t, s, "v1", have)
	if first < im1.Size() {
		t.Fatalf("first pull sent %d bytes, less than the image (%d)", first, im1.Size())
	}
	for _, d := range append([]v1.Descriptor{im1.Config}, im1.Layers...) {
		have[d.Digest] = true
	}
	second := pullBytes(t, s, "v2", have)
	delta := im2.Manifest.Size + im2.Config.Size + im2.Layers[1].Size
	if limit := delta + delta/10 + 64<<10; second > limit {
		t.Fatalf("redeploy sent %d bytes, over %d (changed layer %d + manifest %d + config %d, + 10%% + 64 KiB)",
			second, limit, im2.Layers[1].Size, im2.Manifest.Size, im2.Config.Size)
	}
	t.Logf("first deploy: %d bytes (image %d); redeploy: %d bytes (changed layer %d, manifest %d, config %d)",
		first, im1.Size(), second, im2.Layers[1].Size, im2.Manifest.Size, im2.Config.Size)
}

// BenchmarkPullBytes reports the bytes sent to a host for (a) a first
// deploy and (b) a redeploy whose image differs by one small layer, with a
// simulated engine that, like Docker, asks only for blobs it lacks. The
// sandbox scenario e2e/local_registry.txtar measures the same with real
// Docker engines.
func BenchmarkPullBytes(b *testing.B) {
	_, s, im1, _ := testRegistry(b)
	var first, second int64
	for b.Loop() {
		have := map[v1.Hash]bool{}
		first = pullBytes(b, s, "v1", have)
		for _, d := range append([]v1.Descriptor{im1.Config}, im1.Layers...) {
			have[d.Digest] = true
		}
		second = pullBytes(b, s, "v2", have)
	}
	b.ReportMetric(float64(first), "first-deploy-bytes")
	b.ReportMetric(float64(second), "redeploy-bytes")
}
