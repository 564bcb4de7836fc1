package dynamic

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	ptypes "github.com/traefik/paerser/types"
	"go.yaml.in/yaml/v3"
)

func ptr[T any](v T) *T { return &v }

// Kamal 1's documented HTTPS form, with an HTTP router that redirects and
// an admin router behind basic auth.
var kamalHTTPS = map[string]string{
	"traefik.http.routers.hey-web.rule":                                           "Host(`app.test`)",
	"traefik.http.routers.hey-web.entrypoints":                                    "websecure",
	"traefik.http.routers.hey-web.tls.certresolver":                               "letsencrypt",
	"traefik.http.routers.hey-web-http.rule":                                      "Host(`app.test`)",
	"traefik.http.routers.hey-web-http.entrypoints":                               "web",
	"traefik.http.routers.hey-web-http.middlewares":                               "to-https@docker",
	"traefik.http.middlewares.to-https.redirectscheme.scheme":                     "https",
	"traefik.http.middlewares.to-https.redirectscheme.permanent":                  "true",
	"traefik.http.routers.admin.rule":                                             "Host(`app.test`) && PathPrefix(`/admin`)",
	"traefik.http.routers.admin.priority":                                         "100",
	"traefik.http.routers.admin.entrypoints":                                      "websecure",
	"traefik.http.routers.admin.tls":                                              "true",
	"traefik.http.routers.admin.middlewares":                                      "auth",
	"traefik.http.middlewares.auth.basicauth.users":                               "admin:$apr1$ruca84Hq$mbjdMZBAG.KWn7vfN/SNK/,ops:$2y$05$abc",
	"traefik.http.services.hey-web.loadbalancer.server.scheme":                    "http",
	"traefik.http.services.hey-web.loadbalancer.responseforwarding.flushinterval": "1",
	"com.example.team":                                                            "web", // not Traefik's: skipped
}

const kamalHTTPSFile = "# Written by mrsk: do not edit, the next deploy rewrites it.\n" + `http:
  routers:
    admin:
      rule: Host(` + "`app.test`" + `) && PathPrefix(` + "`/admin`" + `)
      priority: 100
      entryPoints:
        - websecure
      middlewares:
        - auth
      service: hey-web
      tls: {}
    hey-web:
      rule: Host(` + "`app.test`" + `)
      entryPoints:
        - websecure
      service: hey-web
      tls:
        certResolver: letsencrypt
    hey-web-http:
      rule: Host(` + "`app.test`" + `)
      entryPoints:
        - web
      middlewares:
        - to-https
      service: hey-web
  middlewares:
    auth:
      basicAuth:
        users:
          - admin:$apr1$ruca84Hq$mbjdMZBAG.KWn7vfN/SNK/
          - ops:$2y$05$abc
    to-https:
      redirectScheme:
        scheme: https
        permanent: true
  services:
    hey-web:
      loadBalancer:
        servers:
          - url: http://172.18.0.3:3000
        responseForwarding:
          flushInterval: 1s
`

func TestRenderKamalHTTPS(t *testing.T) {
	l, err := Decode(kamalHTTPS)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Key: "hey-web", URL: "http://172.18.0.3:3000", EntryPoints: []string{"web"}}
	file, routers, err := l.Render(o)
	if err != nil {
		t.Fatal(err)
	}
	if string(file) != kamalHTTPSFile {
		t.Errorf("route file:\n%s\nwant:\n%s", file, kamalHTTPSFile)
	}
	if want := []string{"admin", "hey-web", "hey-web-http"}; !slices.Equal(routers, want) {
		t.Errorf("routers %v, want %v", routers, want)
	}
	again, _, _ := l.Render(o)
	if string(again) != string(file) {
		t.Error("the same labels rendered twice differ")
	}
	// Traefik reads the file back as what Build made.
	var back struct {
		HTTP *HTTP `yaml:"http"`
	}
	if err := yaml.Unmarshal(file, &back); err != nil {
		t.Fatal(err)
	}
	built, _ := l.Build(o)
	if !reflect.DeepEqual(back.HTTP, built) {
		t.Errorf("the file reads back as\n%#v\nnot\n%#v", back.HTTP, built)
	}
}

func TestBuild(t *testing.T) {
	const url = "http://10.0.0.5:3000"
	tests := []struct {
		name   string
		labels map[string]string
		opts   Options
		check  func(t *testing.T, h *HTTP)
	}{
		{
			name: "no labels: Kamal 1's router and service",
			check: func(t *testing.T, h *HTTP) {
				want := &HTTP{
					Routers:     map[string]*Router{"hey-web": {Rule: DefaultRule, EntryPoints: []string{"web"}, Service: "hey-web"}},
					Middlewares: map[string]*Middleware{},
					Services:    map[string]*Service{"hey-web": {LoadBalancer: &LoadBalancer{Servers: []Server{{URL: url}}}}},
				}
				if !reflect.DeepEqual(h, want) {
					t.Errorf("got %#v", h)
				}
			},
		},
		{
			name: "names and fields in any case",
			labels: map[string]string{
				"traefik.HTTP.Routers.Hey-Web.Rule":                     "Host(`a.test`)",
				"traefik.http.ROUTERS.hey-web.EntryPoints":              "web,other",
				"traefik.http.services.svc.LoadBalancer.Server.Port":    "8080",
				"traefik.http.services.SVC.loadbalancer.server.scheme":  "h2c",
				"traefik.http.services.svc.loadbalancer.PassHostHeader": "false",
			},
			check: func(t *testing.T, h *HTTP) {
				r := h.Routers["hey-web"]
				if r == nil || r.Rule != "Host(`a.test`)" || !slices.Equal(r.EntryPoints, []string{"web", "other"}) || len(h.Routers) != 1 {
					t.Errorf("routers %#v", h.Routers)
				}
				lb := h.Services["hey-web"].LoadBalancer
				if lb.Servers[0].URL != "h2c://10.0.0.5:8080" || lb.PassHostHeader == nil || *lb.PassHostHeader {
					t.Errorf("load balancer %#v", lb)
				}
			},
		},
		{
			name: "extra router gets the defaults; the labels' service is the role's",
			labels: map[string]string{
				"traefik.http.routers.api.rule":                                 "PathPrefix(`/api`)",
				"traefik.http.routers.api.service":                              "backend@docker",
				"traefik.http.services.backend.loadbalancer.sticky.cookie.name": "s",
				"traefik.http.routers.ping.service":                             "ping@internal",
			},
			opts: Options{EntryPoints: []string{"web", "websecure"}},
			check: func(t *testing.T, h *HTTP) {
				api := h.Routers["api"]
				if api.Service != "hey-web" || !slices.Equal(api.EntryPoints, []string{"web", "websecure"}) {
					t.Errorf("api router %#v", api)
				}
				if p := h.Routers["ping"]; p.Service != "ping@internal" || p.Rule != DefaultRule {
					t.Errorf("ping router %#v", p)
				}
				if _, ok := h.Services["backend"]; ok || h.Services["hey-web"].LoadBalancer.Sticky.Cookie.Name != "s" {
					t.Errorf("services %#v", h.Services)
				}
			},
		},
		{
			name: "middlewares of every kind keep their settings",
			labels: map[string]string{
				"traefik.http.routers.hey-web.middlewares":                        "chain,gz@docker,auth@file,ping@internal",
				"traefik.http.middlewares.chain.chain.middlewares":                "hdr@docker, rl",
				"traefik.http.middlewares.hdr.headers.customrequestheaders.X-App": "hey",
				"traefik.http.middlewares.hdr.headers.stsseconds":                 "0",
				"traefik.http.middlewares.rl.ratelimit.average":                   "100",
				"traefik.http.middlewares.rl.ratelimit.period":                    "1m",
				"traefik.http.middlewares.gz.compress":                            "true",
				"traefik.http.middlewares.strip.stripprefix.prefixes":             "/a,/b",
				"traefik.http.middlewares.strip.stripprefix.forceslash":           "false",
				"traefik.http.middlewares.allow.ipallowlist.sourcerange":          "10.0.0.0/8",
				"traefik.http.middlewares.old.ipwhitelist.sourcerange":            "10.0.0.0/8",
				"traefik.http.middlewares.err.errors.service":                     "hey-web",
				"traefik.http.middlewares.err.errors.status":                      "500-599",
				"traefik.http.middlewares.fwd.forwardauth.address":                "http://auth:9000",
				"traefik.http.middlewares.fwd.forwardauth.tls.insecureskipverify": "true",
				"traefik.http.middlewares.cb.circuitbreaker.expression":           "NetworkErrorRatio() > 0.5",
				"traefik.http.middlewares.grpc.grpcweb.alloworigins":              "*",
			},
			check: func(t *testing.T, h *HTTP) {
				if got := h.Routers["hey-web"].Middlewares; !slices.Equal(got, []string{"chain", "gz", "auth@file", "ping@internal"}) {
					t.Errorf("router middlewares %v", got)
				}
				m := h.Middlewares
				if got := m["chain"].Chain.Middlewares; !slices.Equal(got, []string{"hdr", "rl"}) {
					t.Errorf("chain %v", got)
				}
				if m["hdr"].Headers.CustomRequestHeaders["X-App"] != "hey" || *m["hdr"].Headers.STSSeconds != 0 {
					t.Errorf("headers %#v", m["hdr"].Headers)
				}
				if *m["rl"].RateLimit.Period != ptypes.Duration(time.Minute) || m["gz"].Compress == nil {
					t.Errorf("ratelimit/compress %#v %#v", m["rl"], m["gz"])
				}
				if *m["strip"].StripPrefix.ForceSlash || m["old"].IPWhiteList == nil || m["err"].Errors.Service != "hey-web" {
					t.Errorf("strip/old/err %#v %#v %#v", m["strip"], m["old"], m["err"])
				}
			},
		},
		{
			name: "first-class TLS with redirect",
			opts: Options{TLS: &TLS{Hosts: []string{"a.test", "b.test"}, CertResolver: "le", Redirect: true}, EntryPoints: []string{"web", "websecure"}},
			check: func(t *testing.T, h *HTTP) {
				rule := "Host(`a.test`) || Host(`b.test`)"
				want := map[string]*Router{
					"hey-web": {Rule: rule, EntryPoints: []string{"websecure"}, Service: "hey-web",
						TLS: &RouterTLS{CertResolver: "le", Domains: []Domain{{Main: "a.test", SANs: []string{"b.test"}}}}},
					"hey-web-http": {Rule: rule, EntryPoints: []string{"web"}, Service: "hey-web", Middlewares: []string{"hey-web-https-redirect"}},
				}
				if !reflect.DeepEqual(h.Routers, want) {
					t.Errorf("routers %#v", h.Routers)
				}
				if rs := h.Middlewares["hey-web-https-redirect"].RedirectScheme; rs == nil || rs.Scheme != "https" || !rs.Permanent {
					t.Errorf("redirect %#v", rs)
				}
			},
		},
		{
			name:   "first-class TLS, labels on top",
			labels: map[string]string{"traefik.http.routers.hey-web.rule": "Host(`c.test`)", "traefik.http.routers.hey-web.tls.options": "modern@file"},
			opts:   Options{TLS: &TLS{Hosts: []string{"c.test"}}},
			check: func(t *testing.T, h *HTTP) {
				r := h.Routers["hey-web"]
				if r.TLS.Options != "modern@file" || r.TLS.Domains[0].Main != "c.test" || r.Rule != "Host(`c.test`)" {
					t.Errorf("router %#v %#v", r, r.TLS)
				}
				hr := h.Routers["hey-web-http"]
				if hr.Rule != "Host(`c.test`)" || hr.Middlewares != nil {
					t.Errorf("http router %#v", hr)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Decode(tc.labels)
			if err != nil {
				t.Fatal(err)
			}
			tc.opts.Key, tc.opts.URL = "hey-web", url
			h, err := l.Build(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, h)
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		labels map[string]string
		want   string // the error starts with it
	}{
		{map[string]string{"traefik.http.middlewares.auth.basicauth.userz": "x"}, `traefik.http.middlewares.auth.basicauth.userz: unknown field "userz"`},
		{map[string]string{"traefik.http.middlewares.auth.basicAuthz.users": "x"}, `traefik.http.middlewares.auth.basicAuthz.users: unknown field "basicAuthz"`},
		{map[string]string{"traefik.http.routers.a.rulez": "x"}, `traefik.http.routers.a.rulez: unknown field "rulez"`},
		{map[string]string{"traefik.http.routers.a.priority": "high"}, `traefik.http.routers.a.priority: "high" is not valid: must be an integer`},
		{map[string]string{"traefik.http.middlewares.r.retry.initialinterval": "5x"}, `traefik.http.middlewares.r.retry.initialinterval: "5x" is not a duration`},
		{map[string]string{"traefik.http.middlewares.a.basicauth": "x"}, `traefik.http.middlewares.a.basicauth: "basicauth" is a section, not a value`},
		{map[string]string{"traefik.http.middlewares.a.headers.customrequestheaders": "x"}, `traefik.http.middlewares.a.headers.customrequestheaders: "customrequestheaders" is a section`},
		{map[string]string{"traefik.http.routers": "x"}, `traefik.http.routers: incomplete label`},
		{map[string]string{"traefik.http.routers.a..rule": "x"}, `traefik.http.routers.a..rule: a label name has no empty parts`},
		{map[string]string{"traefik.tcp.routers.db.rule": "HostSNI(`*`)"}, `traefik.tcp.routers.db.rule: mrsk routes HTTP only`},
		{map[string]string{"traefik.udp.services.dns.loadbalancer.server.port": "53"}, `traefik.udp.services.dns.loadbalancer.server.port: mrsk routes HTTP only`},
		{map[string]string{"traefik.tls.stores.default.defaultcertificate.certfile": "x"}, `traefik.tls.stores.default.defaultcertificate.certfile: TLS stores and options`},
		{map[string]string{"traefik.docker.network": "web"}, `traefik.docker.network: mrsk's Traefik has no Docker provider`},
		{map[string]string{"traefik.constraint-label": "x"}, `traefik.constraint-label: not a label mrsk can translate`},
		{map[string]string{"traefik.enable": "maybe"}, `traefik.enable: must be true or false`},
		{map[string]string{"Traefik.http.routers.a.rule": "x"}, `Traefik.http.routers.a.rule: Traefik reads labels starting with "traefik." in lower case only`},
		{map[string]string{"traefik.http.routers.a.rule": "x", "traefik.HTTP.routers.a.rule": "y"}, `traefik.http.routers.a.rule: the same label as traefik.HTTP.routers.a.rule`},
		{map[string]string{"traefik.http.services.a.loadbalancer.server.url": "http://x"}, `traefik.http.services.a.loadbalancer.server.url: mrsk sets the server`},
		{map[string]string{"traefik.http.services.a.loadbalancer.server.port": "http"}, `traefik.http.services.a.loadbalancer.server.port: must be a port number`},
		{map[string]string{"traefik.http.services.a.loadbalancer.server.scheme": "ftp"}, `traefik.http.services.a.loadbalancer.server.scheme: must be http, https or h2c`},
		{map[string]string{"traefik.http.services.a.weighted.services[0].name": "x"}, `traefik.http.services.a.weighted.services[0].name: mrsk routes a role to one load-balanced service`},
		{map[string]string{"traefik.http.services.a.mirroring.service": "x"}, `traefik.http.services.a.mirroring.service: mrsk routes a role to one load-balanced service`},
		{map[string]string{"traefik.http.services.a.loadbalancer.server.port": "1", "traefik.http.services.b.loadbalancer.server.port": "2"}, `traefik.http.services.b.loadbalancer.server.port: mrsk routes a role to one service (its container), and these labels define 2: a, b`},
		{map[string]string{"traefik.http.serverstransports.t.insecureskipverify": "true"}, `traefik.http.serverstransports.t.insecureskipverify: servers transports cannot be set by labels`},
		{map[string]string{"traefik.http.middlewares.p.plugin.x.y": "z"}, `traefik.http.middlewares.p.plugin.x.y: plugin middlewares are not supported`},
		{map[string]string{"traefik.http.routers.a.middlewares": "auth"}, `traefik.http.routers.a.middlewares: no middleware "auth" is defined by these labels`},
		{map[string]string{"traefik.http.routers.a.middlewares": "auth@kubernetescrd"}, `traefik.http.routers.a.middlewares: middleware "auth@kubernetescrd": mrsk's Traefik has only the file provider`},
		{map[string]string{"traefik.http.middlewares.c.chain.middlewares": "x"}, `traefik.http.middlewares.c.chain.middlewares: no middleware "x"`},
		{map[string]string{"traefik.http.middlewares.m.compress": "false"}, `traefik.http.middlewares.m.compress: the middleware has no type`},
		{map[string]string{"traefik.http.middlewares.m.compress": "true", "traefik.http.middlewares.m.retry.attempts": "2"}, `traefik.http.middlewares.m.retry.attempts: a middleware has one type, and this one sets compress and retry`},
		{map[string]string{"traefik.http.routers.a.entrypoints": "web,traefik"}, `traefik.http.routers.a.entrypoints: the "traefik" entry point is Traefik's API`},
		{map[string]string{"traefik.http.middlewares.w.ipwhitelist.rejectstatuscode": "404"}, `traefik.http.middlewares.w.ipwhitelist.rejectstatuscode: unknown field "rejectstatuscode"`},
	}
	for _, tc := range tests {
		_, err := Decode(tc.labels)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Decode(%v) = %v; want %s...", tc.labels, err, tc.want)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		labels map[string]string
		want   string
	}{
		{map[string]string{"traefik.http.routers.a.service": "other"}, `traefik.http.routers.a.service: service "other": mrsk routes a role to its own service`},
		{map[string]string{"traefik.http.routers.a.service": "other@file"}, `traefik.http.routers.a.service: service "other@file"`},
		{map[string]string{"traefik.http.middlewares.e.errors.service": "pages"}, `traefik.http.middlewares.e.errors.service: no service "pages" is defined by these labels`},
	}
	for _, tc := range tests {
		l, err := Decode(tc.labels)
		if err != nil {
			t.Fatal(err)
		}
		_, err = l.Build(Options{Key: "hey-web", URL: "http://10.0.0.1:3000"})
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Build(%v) = %v; want %s...", tc.labels, err, tc.want)
		}
	}
}

func TestEnable(t *testing.T) {
	for _, tc := range []struct {
		labels map[string]string
		want   *bool
	}{
		{nil, nil},
		{map[string]string{"traefik.enable": "true"}, ptr(true)},
		{map[string]string{"traefik.enable": "false", "traefik.http.routers.x.rule": "Host(`a`)"}, ptr(false)},
	} {
		l, err := Decode(tc.labels)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(l.Enable, tc.want) {
			t.Errorf("Decode(%v).Enable = %v, want %v", tc.labels, l.Enable, tc.want)
		}
	}
}

func TestMerge(t *testing.T) {
	role := map[string]string{"traefik.HTTP.routers.a.rule": "role", "x": "1"}
	top := map[string]string{"traefik.http.routers.a.rule": "top", "traefik.http.routers.a.priority": "3", "x": "2"}
	got := Merge(role, top)
	want := map[string]string{"traefik.HTTP.routers.a.rule": "role", "traefik.http.routers.a.priority": "3", "x": "1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Merge = %v, want %v", got, want)
	}
}

func TestServerURLs(t *testing.T) {
	l, _ := Decode(nil)
	file, _, _ := l.Render(Options{Key: "k", URL: "http://1.2.3.4:80"})
	// The file mrsk wrote before it read labels.
	old := "# Written by mrsk\nhttp:\n  routers:\n    k:\n      rule: \"PathPrefix(`/`)\"\n      entryPoints: [\"web\"]\n      service: k\n  services:\n    k:\n      loadBalancer:\n        servers:\n          - url: \"http://1.2.3.5:3000\"\n"
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"not: [yaml", nil},
		{string(file), []string{"http://1.2.3.4:80"}},
		{old, []string{"http://1.2.3.5:3000"}},
		{"http:\n  services:\n    b:\n      loadBalancer:\n        servers:\n          - url: http://b:2\n    a:\n      loadBalancer:\n        servers:\n          - url: http://a:1\n", []string{"http://a:1", "http://b:2"}},
	} {
		if got := ServerURLs([]byte(tc.in)); !slices.Equal(got, tc.want) {
			t.Errorf("ServerURLs(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestEntryPoints(t *testing.T) {
	for _, tc := range []struct {
		args []string
		tls  bool
		want []string
	}{
		{nil, false, []string{"web"}},
		{nil, true, []string{"web", "websecure"}},
		{[]string{"entryPoints.websecure.address", "entrypoints.web.address", "entrypoints.traefik.address", "log.level", "entryPoints.Admin.Address"}, false, []string{"web", "Admin", "websecure"}},
	} {
		if got := EntryPoints(tc.args, tc.tls); !slices.Equal(got, tc.want) {
			t.Errorf("EntryPoints(%v, %v) = %v, want %v", tc.args, tc.tls, got, tc.want)
		}
	}
}

// A canary's route: Key is a weighted service over one child service per
// version, each with the labels' load balancer settings; ReadSplit reads
// it back, and finds nothing in a plain route.
func TestRenderCanary(t *testing.T) {
	l, err := Decode(map[string]string{"traefik.http.services.x.loadbalancer.passhostheader": "false"})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Key: "hey-web", URL: "http://10.0.0.5:3000", Container: "hey-web-v1",
		Canary: &Canary{URL: "http://10.0.0.6:3000", Weight: 10, Stable: "hey-web--v1", New: "hey-web--v2", Container: "hey-web-v2"}}
	file, routers, err := l.Render(o)
	if err != nil {
		t.Fatal(err)
	}
	want := Header + `http:
  routers:
    hey-web:
      rule: PathPrefix(` + "`/`" + `)
      entryPoints:
        - web
      service: hey-web
  services:
    hey-web:
      weighted:
        services:
          - name: hey-web--v1
            weight: 90
          - name: hey-web--v2
            weight: 10
    hey-web--v1:
      loadBalancer:
        servers:
          - url: http://10.0.0.5:3000
        passHostHeader: false
    hey-web--v2:
      loadBalancer:
        servers:
          - url: http://10.0.0.6:3000
        passHostHeader: false
# mrsk-container hey-web-v1 //10.0.0.5:
# mrsk-container hey-web-v2 //10.0.0.6:
`
	if string(file) != want {
		t.Errorf("canary route:\n%s\nwant\n%s", file, want)
	}
	if len(routers) != 1 || routers[0] != "hey-web" {
		t.Errorf("routers %v", routers)
	}
	sp, ok := ReadSplit(file, "hey-web")
	if !ok || sp != (Split{Stable: "hey-web--v1", New: "hey-web--v2", StableURL: "http://10.0.0.5:3000", NewURL: "http://10.0.0.6:3000", Weight: 10}) {
		t.Errorf("ReadSplit = %+v, %v", sp, ok)
	}
	plain, _, err := l.Render(Options{Key: "hey-web", URL: "http://10.0.0.5:3000"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ReadSplit(plain, "hey-web"); ok {
		t.Error("ReadSplit found a split in a plain route")
	}
	for _, bad := range []*Canary{
		{URL: "http://10.0.0.6:3000", Weight: 0, Stable: "a", New: "b"},
		{URL: "http://10.0.0.6:3000", Weight: 100, Stable: "a", New: "b"},
		{URL: "http://10.0.0.6:3000", Weight: 10, Stable: "a", New: "a"},
		{URL: "http://10.0.0.6:3000", Weight: 10, Stable: "hey-web", New: "b"},
		{URL: "::", Weight: 10, Stable: "a", New: "b"},
	} {
		if _, _, err := l.Render(Options{Key: "hey-web", URL: "http://10.0.0.5:3000", Canary: bad}); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

// The comment that names a server's container: from the URL's address,
// none without a name or an address.
func TestContainerComment(t *testing.T) {
	for _, tc := range []struct{ name, url, want string }{
		{"hey-web-v2", "http://172.18.0.4:3000", "# mrsk-container hey-web-v2 //172.18.0.4:\n"},
		{"hey-web-v2", "https://172.18.0.4", "# mrsk-container hey-web-v2 //172.18.0.4:\n"},
		{"", "http://172.18.0.4:3000", ""},
		{"hey-web-v2", "::bad", ""},
	} {
		if got := ContainerComment(tc.name, tc.url); got != tc.want {
			t.Errorf("ContainerComment(%q, %q) = %q, want %q", tc.name, tc.url, got, tc.want)
		}
	}
}
