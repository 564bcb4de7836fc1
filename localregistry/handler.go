package localregistry

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"regexp"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Handler is a read-only registry (the pull half of the OCI distribution
// API) over a Cache: it serves the manifests of the cache's images and the
// blobs they name, and nothing else. Writing is refused: what hosts get is
// exactly what this machine built and imported.
type Handler struct {
	cache *Cache

	mu    sync.Mutex
	reads map[v1.Hash]int
}

// NewHandler serves c.
func NewHandler(c *Cache) *Handler { return &Handler{cache: c, reads: map[v1.Hash]int{}} }

// Reads is how many times each blob (manifests included) was opened to be
// sent.
func (h *Handler) Reads() map[v1.Hash]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := make(map[v1.Hash]int, len(h.reads))
	for k, v := range h.reads {
		m[k] = v
	}
	return m
}

var routeRE = regexp.MustCompile(`^/v2/(.+)/(manifests|blobs)/([^/]+)$`)

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		regError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "this registry is read-only")
		return
	}
	if r.URL.Path == "/v2/" || r.URL.Path == "/v2" {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("{}"))
		return
	}
	m := routeRE.FindStringSubmatch(r.URL.Path)
	if m == nil {
		regError(w, http.StatusNotFound, "NOT_FOUND", "not found")
		return
	}
	repo, kind, ref := m[1], m[2], m[3]
	ims, err := h.cache.images(repo)
	if err != nil {
		regError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	if len(ims) == 0 {
		regError(w, http.StatusNotFound, "NAME_UNKNOWN", "repository "+repo+" is not in mrsk's image cache")
		return
	}
	var d *v1.Descriptor
	if kind == "manifests" {
		d = findManifest(ims, repo, ref)
		if d == nil {
			regError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "no manifest "+ref+" in "+repo)
			return
		}
	} else {
		d = findBlob(ims, ref)
		if d == nil {
			regError(w, http.StatusNotFound, "BLOB_UNKNOWN", "no blob "+ref+" in "+repo)
			return
		}
	}
	f, err := os.Open(h.cache.BlobPath(d.Digest))
	if errors.Is(err, os.ErrNotExist) {
		regError(w, http.StatusNotFound, "BLOB_UNKNOWN", "blob "+d.Digest.String()+" is missing from the cache")
		return
	}
	if err != nil {
		regError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	defer f.Close()
	if r.Method == http.MethodGet {
		h.mu.Lock()
		h.reads[d.Digest]++
		h.mu.Unlock()
	}
	w.Header().Set("Docker-Content-Digest", d.Digest.String())
	w.Header().Set("Content-Type", "application/octet-stream")
	if kind == "manifests" {
		w.Header().Set("Content-Type", string(d.MediaType))
	}
	// ServeContent answers HEAD and Range requests (an engine resuming a
	// layer download asks for the rest only).
	http.ServeContent(w, r, "", time.Time{}, f)
}

// findManifest resolves a tag or a manifest digest among ims.
func findManifest(ims []Image, repo, ref string) *v1.Descriptor {
	for _, im := range ims {
		if im.Ref == repo+":"+ref || im.Manifest.Digest.String() == ref {
			d := im.Manifest
			return &d
		}
	}
	return nil
}

// findBlob finds a config or layer of ims by digest.
func findBlob(ims []Image, digest string) *v1.Descriptor {
	for _, im := range ims {
		if im.Config.Digest.String() == digest {
			d := im.Config
			return &d
		}
		for _, l := range im.Layers {
			if l.Digest.String() == digest {
				return &l
			}
		}
	}
	return nil
}

func regError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}
