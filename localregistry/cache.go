// Package localregistry moves images from this machine to hosts without a
// registry. Images built here are kept in an OCI image layout on disk (the
// cache); a read-only registry handler serves what the cache holds on
// 127.0.0.1; each host pulls through a port its SSH connection forwards to
// that handler, so its engine asks only for the blobs it lacks.
package localregistry

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotations of the cache's index.json entries.
const (
	refAnnotation      = "org.opencontainers.image.ref.name" // "repo:tag"
	importedAnnotation = "dev.mrsk.imported"                 // RFC 3339, orders entries for Prune
)

// Cache is an OCI image layout (blobs/sha256/..., index.json) holding the
// images mrsk serves to hosts. Several mrsk processes may share one: imports
// take an exclusive lock, servers a shared one that keeps Prune away.
type Cache struct {
	dir string
}

// DefaultDir is where the cache lives: $MRSK_IMAGE_CACHE, else mrsk/images
// under the user's cache directory ($XDG_CACHE_HOME or ~/.cache). It is not
// in the project, which would put every image into the next build's
// context, and one cache lets projects share base layers.
func DefaultDir(getenv func(string) string) (string, error) {
	if d := getenv("MRSK_IMAGE_CACHE"); d != "" {
		return d, nil
	}
	base := getenv("XDG_CACHE_HOME")
	if base == "" {
		home := getenv("HOME")
		if home == "" {
			return "", errors.New("image cache: neither MRSK_IMAGE_CACHE, XDG_CACHE_HOME nor HOME is set")
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "mrsk", "images"), nil
}

// OpenCache opens the cache in dir, creating an empty layout if needed.
func OpenCache(dir string) (*Cache, error) {
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o700); err != nil {
		return nil, fmt.Errorf("image cache: %w", err)
	}
	c := &Cache{dir: dir}
	if _, err := os.Stat(c.path("oci-layout")); errors.Is(err, os.ErrNotExist) {
		if err := writeAtomic(c.path("oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
			return nil, fmt.Errorf("image cache: %w", err)
		}
	}
	return c, nil
}

// Dir is the cache's directory.
func (c *Cache) Dir() string { return c.dir }

func (c *Cache) path(elem ...string) string {
	return filepath.Join(append([]string{c.dir}, elem...)...)
}

// BlobPath is where the blob h is stored.
func (c *Cache) BlobPath(h v1.Hash) string { return c.path("blobs", h.Algorithm, h.Hex) }

// index reads index.json; a missing one is empty.
func (c *Cache) index() (*v1.IndexManifest, error) {
	b, err := os.ReadFile(c.path("index.json"))
	if errors.Is(err, os.ErrNotExist) {
		return &v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}, nil
	}
	if err != nil {
		return nil, err
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(b, &im); err != nil {
		return nil, fmt.Errorf("%s: %w", c.path("index.json"), err)
	}
	return &im, nil
}

func (c *Cache) writeIndex(im *v1.IndexManifest) error {
	b, err := json.MarshalIndent(im, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(c.path("index.json"), b)
}

// Image is one image of the cache.
type Image struct {
	Ref      string        // repo:tag
	Manifest v1.Descriptor // the manifest's descriptor
	Config   v1.Descriptor
	Layers   []v1.Descriptor
	DiffIDs  []v1.Hash // uncompressed digests, one per layer
}

// Size is the bytes a host lacking every blob downloads: manifest, config
// and layers.
func (im Image) Size() int64 {
	n := im.Manifest.Size + im.Config.Size
	for _, l := range im.Layers {
		n += l.Size
	}
	return n
}

// Lookup finds repo:tag in the cache.
func (c *Cache) Lookup(repo, tag string) (Image, error) {
	ims, err := c.images(repo)
	if err != nil {
		return Image{}, err
	}
	for _, im := range ims {
		if im.Ref == repo+":"+tag {
			return im, nil
		}
	}
	return Image{}, fmt.Errorf("%s:%s is not in the image cache %s: %w", repo, tag, c.dir, os.ErrNotExist)
}

// images lists the cache's images of repo ("" for every repo), newest
// imported first.
func (c *Cache) images(repo string) ([]Image, error) {
	idx, err := c.index()
	if err != nil {
		return nil, fmt.Errorf("image cache: %w", err)
	}
	var out []Image
	for _, d := range idx.Manifests {
		ref := d.Annotations[refAnnotation]
		if repo != "" && !strings.HasPrefix(ref, repo+":") {
			continue
		}
		im, err := c.load(ref, d)
		if err != nil {
			return nil, fmt.Errorf("image cache: %s: %w", ref, err)
		}
		out = append(out, im)
	}
	slices.Reverse(out) // appended in import order
	return out, nil
}

// load reads an index entry's manifest and config.
func (c *Cache) load(ref string, d v1.Descriptor) (Image, error) {
	b, err := os.ReadFile(c.BlobPath(d.Digest))
	if err != nil {
		return Image{}, err
	}
	var m v1.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Image{}, err
	}
	cb, err := os.ReadFile(c.BlobPath(m.Config.Digest))
	if err != nil {
		return Image{}, err
	}
	var cf v1.ConfigFile
	if err := json.Unmarshal(cb, &cf); err != nil {
		return Image{}, err
	}
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return Image{}, fmt.Errorf("config lists %d layers, manifest %d", len(cf.RootFS.DiffIDs), len(m.Layers))
	}
	return Image{Ref: ref, Manifest: d, Config: m.Config, Layers: m.Layers, DiffIDs: cf.RootFS.DiffIDs}, nil
}

// Imported says what an Import did.
type Imported struct {
	Image
	// NewLayers and NewBytes count the layers the cache did not hold yet
	// (compressed, stored): the rest were reused by their uncompressed
	// digest, so an unchanged layer keeps its digest and hosts that have
	// it do not download it again.
	NewLayers int
	NewBytes  int64
}

// Import adds the image of a `docker save` archive at tarPath to the cache
// as repo:tag, replacing an earlier repo:tag. Layers already in the cache
// (same uncompressed digest) are reused, not compressed again: gzip output
// need not be stable across Go versions, and a changed digest would make
// every host download the layer again.
func (c *Cache) Import(tarPath, repo, tag string) (Imported, error) {
	unlock, err := c.lock("import.lock", syscall.LOCK_EX)
	if err != nil {
		return Imported{}, err
	}
	defer unlock()

	f, err := os.Open(tarPath)
	if err != nil {
		return Imported{}, err
	}
	defer f.Close()
	entries, err := scanTar(f)
	if err != nil {
		return Imported{}, fmt.Errorf("read %s: %w", tarPath, err)
	}
	var saved []struct {
		Config string
		Layers []string
	}
	if err := json.Unmarshal(entries.read(f, "manifest.json"), &saved); err != nil || len(saved) != 1 {
		return Imported{}, fmt.Errorf("read %s: manifest.json: want one image (err %v)", tarPath, err)
	}
	configBytes := entries.read(f, saved[0].Config)
	var cf v1.ConfigFile
	if err := json.Unmarshal(configBytes, &cf); err != nil {
		return Imported{}, fmt.Errorf("read %s: config %s: %w", tarPath, saved[0].Config, err)
	}
	if len(cf.RootFS.DiffIDs) != len(saved[0].Layers) {
		return Imported{}, fmt.Errorf("read %s: config lists %d layers, manifest.json %d", tarPath, len(cf.RootFS.DiffIDs), len(saved[0].Layers))
	}

	known, err := c.knownLayers()
	if err != nil {
		return Imported{}, err
	}
	var res Imported
	res.Ref = repo + ":" + tag
	res.DiffIDs = cf.RootFS.DiffIDs
	for i, diffID := range cf.RootFS.DiffIDs {
		if d, ok := known[diffID]; ok {
			res.Layers = append(res.Layers, d)
			continue
		}
		r, err := entries.open(f, saved[0].Layers[i])
		if err != nil {
			return Imported{}, fmt.Errorf("read %s: %w", tarPath, err)
		}
		d, err := c.writeLayer(r, diffID)
		if err != nil {
			return Imported{}, fmt.Errorf("image cache: layer %s: %w", diffID, err)
		}
		known[diffID] = d
		res.Layers = append(res.Layers, d)
		res.NewLayers++
		res.NewBytes += d.Size
	}
	if res.Config, err = c.writeBlob(configBytes, types.DockerConfigJSON); err != nil {
		return Imported{}, fmt.Errorf("image cache: %w", err)
	}
	// Docker's schema 2 manifest: every engine mrsk drives pulls it.
	mb, err := json.Marshal(v1.Manifest{SchemaVersion: 2, MediaType: types.DockerManifestSchema2, Config: res.Config, Layers: res.Layers})
	if err != nil {
		return Imported{}, err
	}
	if res.Manifest, err = c.writeBlob(mb, types.DockerManifestSchema2); err != nil {
		return Imported{}, fmt.Errorf("image cache: %w", err)
	}
	res.Manifest.Annotations = map[string]string{refAnnotation: res.Ref, importedAnnotation: time.Now().UTC().Format(time.RFC3339Nano)}

	idx, err := c.index()
	if err != nil {
		return Imported{}, fmt.Errorf("image cache: %w", err)
	}
	idx.Manifests = slices.DeleteFunc(idx.Manifests, func(d v1.Descriptor) bool { return d.Annotations[refAnnotation] == res.Ref })
	idx.Manifests = append(idx.Manifests, res.Manifest)
	if err := c.writeIndex(idx); err != nil {
		return Imported{}, fmt.Errorf("image cache: %w", err)
	}
	return res, nil
}

// knownLayers maps the uncompressed digest of every cached layer to its
// stored (compressed) descriptor.
func (c *Cache) knownLayers() (map[v1.Hash]v1.Descriptor, error) {
	ims, err := c.images("")
	if err != nil {
		return nil, err
	}
	known := map[v1.Hash]v1.Descriptor{}
	for _, im := range ims {
		for i, d := range im.Layers {
			if _, err := os.Stat(c.BlobPath(d.Digest)); err == nil {
				known[im.DiffIDs[i]] = d
			}
		}
	}
	return known, nil
}

// writeLayer gzips an uncompressed layer into a blob, checking it against
// its uncompressed digest on the way.
func (c *Cache) writeLayer(r io.Reader, diffID v1.Hash) (v1.Descriptor, error) {
	tmp, err := os.CreateTemp(c.path("blobs", "sha256"), ".layer-*")
	if err != nil {
		return v1.Descriptor{}, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	compressed := sha256.New()
	cw := &countWriter{w: io.MultiWriter(tmp, compressed)}
	zw := gzip.NewWriter(cw)
	uncompressed := sha256.New()
	if _, err := io.Copy(io.MultiWriter(zw, uncompressed), r); err != nil {
		return v1.Descriptor{}, err
	}
	if err := zw.Close(); err != nil {
		return v1.Descriptor{}, err
	}
	if got := sum(uncompressed); got != diffID {
		return v1.Descriptor{}, fmt.Errorf("content has digest %s", got)
	}
	if err := tmp.Sync(); err != nil {
		return v1.Descriptor{}, err
	}
	d := v1.Descriptor{MediaType: types.DockerLayer, Size: cw.n, Digest: sum(compressed)}
	return d, os.Rename(tmp.Name(), c.BlobPath(d.Digest))
}

// writeBlob stores b (a config or manifest).
func (c *Cache) writeBlob(b []byte, mt types.MediaType) (v1.Descriptor, error) {
	h := sha256.Sum256(b)
	d := v1.Descriptor{MediaType: mt, Size: int64(len(b)), Digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h[:])}}
	if st, err := os.Stat(c.BlobPath(d.Digest)); err == nil && st.Size() == d.Size {
		return d, nil
	}
	return d, writeAtomic(c.BlobPath(d.Digest), b)
}

// Prune keeps the newest keep images of repo in the cache and removes the
// blobs no image uses any more. It is skipped (ok false) while a server of
// any mrsk process is open, since a host may be pulling a blob it would
// remove.
func (c *Cache) Prune(repo string, keep int) (ok bool, err error) {
	unlockImport, err := c.lock("import.lock", syscall.LOCK_EX)
	if err != nil {
		return false, err
	}
	defer unlockImport()
	unlockServe, err := c.lock("serve.lock", syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer unlockServe()

	idx, err := c.index()
	if err != nil {
		return false, fmt.Errorf("image cache: %w", err)
	}
	var kept []v1.Descriptor
	seen := 0
	for i := len(idx.Manifests) - 1; i >= 0; i-- { // newest first
		d := idx.Manifests[i]
		if strings.HasPrefix(d.Annotations[refAnnotation], repo+":") {
			if seen++; seen > keep {
				continue
			}
		}
		kept = append(kept, d)
	}
	slices.Reverse(kept)
	idx.Manifests = kept
	if err := c.writeIndex(idx); err != nil {
		return false, fmt.Errorf("image cache: %w", err)
	}
	ims, err := c.images("")
	if err != nil {
		return false, err
	}
	used := map[string]bool{}
	for _, im := range ims {
		used[im.Manifest.Digest.Hex] = true
		used[im.Config.Digest.Hex] = true
		for _, l := range im.Layers {
			used[l.Digest.Hex] = true
		}
	}
	blobs, err := os.ReadDir(c.path("blobs", "sha256"))
	if err != nil {
		return false, fmt.Errorf("image cache: %w", err)
	}
	for _, b := range blobs {
		if !used[b.Name()] && !strings.HasPrefix(b.Name(), ".") {
			if err := os.Remove(c.path("blobs", "sha256", b.Name())); err != nil {
				return false, fmt.Errorf("image cache: %w", err)
			}
		}
	}
	return true, nil
}

// lock takes a flock on a file of the cache; how is LOCK_EX or LOCK_SH,
// maybe with LOCK_NB.
func (c *Cache) lock(name string, how int) (func(), error) {
	f, err := os.OpenFile(c.path(name), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("image cache: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, err
		}
		return nil, fmt.Errorf("image cache: lock %s: %w", name, err)
	}
	return func() { f.Close() }, nil
}

// tarEntries indexes a `docker save` archive in one pass: each regular
// file's offset and size, each link's target, so layers are then read
// straight from their place in the file.
type tarEntries map[string]tarEntry

type tarEntry struct {
	offset, size int64
	link         string
}

func scanTar(f *os.File) (tarEntries, error) {
	cr := &countReader{f: f}
	tr := tar.NewReader(cr)
	entries := tarEntries{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return entries, nil
		}
		if err != nil {
			return nil, err
		}
		name := path.Clean(hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeReg:
			// tar.Reader has read exactly the header blocks: the data
			// starts here.
			entries[name] = tarEntry{offset: cr.n, size: hdr.Size}
		case tar.TypeSymlink:
			entries[name] = tarEntry{link: path.Join(path.Dir(name), hdr.Linkname)}
		case tar.TypeLink:
			entries[name] = tarEntry{link: path.Clean(hdr.Linkname)}
		}
	}
}

func (e tarEntries) open(f *os.File, name string) (io.Reader, error) {
	name = path.Clean(name)
	for range 10 {
		ent, ok := e[name]
		if !ok {
			return nil, fmt.Errorf("%s: not in the archive", name)
		}
		if ent.link == "" {
			return io.NewSectionReader(f, ent.offset, ent.size), nil
		}
		name = ent.link
	}
	return nil, fmt.Errorf("%s: too many links", name)
}

// read returns a small entry's content (nil if missing: the caller's
// decoding says what was wrong).
func (e tarEntries) read(f *os.File, name string) []byte {
	r, err := e.open(f, name)
	if err != nil {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(r, 64<<20))
	return b
}

// countReader knows its position in f; as an io.Seeker it lets
// tar.Reader skip file contents instead of reading them.
type countReader struct {
	f *os.File
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.f.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countReader) Seek(off int64, whence int) (int64, error) {
	pos, err := c.f.Seek(off, whence)
	if err == nil {
		c.n = pos
	}
	return pos, err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func sum(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

// writeAtomic writes a file whole or not at all: readers (servers of other
// mrsk processes) never see half an index.
func writeAtomic(name string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}
