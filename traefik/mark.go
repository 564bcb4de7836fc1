package traefik

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// A restore's mark. When an undo puts a route back, Traefik's API showing
// the route's old servers does not prove Traefik has read the restored
// file: it showed the same servers before the write being undone, and a
// reading of that write may still be on its way through Traefik's reload
// throttle (the file provider reads on every event, the throttle passes
// one reading per 500 ms, the newest waiting), to be applied after the
// check while the undo stops the container it names. So a restore writes,
// after the route and under the route's lock, a mark: an unused headers
// middleware whose value is new for each restore. Traefik reads the route
// directory whole on each event and applies its readings in order, so once
// its API shows the mark it has applied a reading taken after the restore,
// and no earlier reading can follow it.

// markHeader carries the mark's value in the middleware.
const markHeader = "X-Mrsk-Restored"

// MarkName is the middleware holding key's mark (file provider).
func MarkName(key string) string { return "mrsk-restored-" + key }

// MarkFile is the name of key's mark file in the route directory.
func MarkFile(key string) string { return "_mrsk_restored." + key + ".yml" }

// MarkContent is key's mark file with value gen.
func MarkContent(key, gen string) string {
	return fmt.Sprintf("# mrsk put the route %s back; this unused middleware tells it when Traefik has read that.\nhttp:\n  middlewares:\n    %s:\n      headers:\n        customRequestHeaders:\n          %s: %s\n",
		key, strconv.Quote(MarkName(key)), markHeader, strconv.Quote(gen))
}

// Mark asks the API of the Traefik at ip for key's mark: its value, or ""
// when Traefik shows none.
func Mark(ctx context.Context, client *http.Client, ip, key string) (string, error) {
	body, found, err := get(ctx, client, ip, "/api/http/middlewares/"+MarkName(key)+"@file")
	if err != nil || !found {
		return "", err
	}
	return parseMark(body)
}

func parseMark(body []byte) (string, error) {
	var m struct {
		Headers struct {
			Request map[string]string `json:"customRequestHeaders"`
		} `json:"headers"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return "", fmt.Errorf("traefik API: %w", err)
	}
	return m.Headers.Request[markHeader], nil
}
