package sshpool

import (
	"errors"
	"fmt"
	"net"
	"os/user"
	"strconv"
	"strings"
)

// hostSpec is a host string as given by the caller: "host", "host:port",
// "user@host", "user@host:port" (IPv6 literals as "[::1]:22" or bare "::1").
// Zero values mean "not given".
type hostSpec struct {
	user string
	host string
	port int
}

func parseHostSpec(s string) (hostSpec, error) {
	var hs hostSpec
	orig := s
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "ssh://")
	if i := strings.LastIndex(s, "@"); i >= 0 {
		hs.user = s[:i]
		s = s[i+1:]
		if hs.user == "" {
			return hs, fmt.Errorf("bad host %q: empty user", orig)
		}
	}
	port := ""
	switch {
	case strings.HasPrefix(s, "["):
		if strings.HasSuffix(s, "]") {
			hs.host = s[1 : len(s)-1]
		} else {
			h, p, err := net.SplitHostPort(s)
			if err != nil {
				return hs, fmt.Errorf("bad host %q: %v", orig, err)
			}
			hs.host, port = h, p
		}
	case strings.Count(s, ":") == 1:
		i := strings.IndexByte(s, ':')
		hs.host, port = s[:i], s[i+1:]
	default: // plain name, or a bare IPv6 literal
		hs.host = s
	}
	if hs.host == "" {
		return hs, fmt.Errorf("bad host %q: empty host name", orig)
	}
	if strings.ContainsAny(hs.host, " \t/") {
		return hs, fmt.Errorf("bad host %q", orig)
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n <= 0 || n > 65535 {
			return hs, fmt.Errorf("bad host %q: bad port %q", orig, port)
		}
		hs.port = n
	}
	return hs, nil
}

// endpoint is a fully resolved SSH destination: who to log in as, where to
// connect, which extra identity files to offer, and which jump host (itself
// an endpoint) to go through.
type endpoint struct {
	display       string // the host string as the caller wrote it
	alias         string
	user          string
	hostname      string
	port          int
	identityFiles []string // from ssh config, already expanded
	jump          *endpoint
	knownHosts    knownHostsFiles
	policy        HostKeyPolicy
	policyWord    string // the StrictHostKeyChecking value as configured, for messages
	label         string // "user@host:port", used in every error
	key           string // pool key: label plus the jump chain
	proxyCommand  string // Options.ProxyCommand with its tokens expanded
}

// addr is the "host:port" the TCP connection goes to and the name used in
// known_hosts.
func (e *endpoint) addr() string {
	return net.JoinHostPort(e.hostname, strconv.Itoa(e.port))
}

const maxJumpDepth = 8

// resolved is resolve's answer for a host string given to Run, Dial or
// Connect.
type resolved struct {
	ep  *endpoint
	err error
}

// target resolves a host string given to Run, Dial or Connect, once per
// host string: what resolve reads (the host string, ssh config, loaded
// once, and Options) does not change in a Pool's life, and a deploy
// resolves every host once per command. Endpoints are never modified.
func (p *Pool) target(spec string) (*endpoint, error) {
	if r, ok := p.targets.Load(spec); ok {
		return r.(*resolved).ep, r.(*resolved).err
	}
	ep, err := p.resolve(spec, true, nil, 0)
	r, _ := p.targets.LoadOrStore(spec, &resolved{ep: ep, err: err})
	return r.(*resolved).ep, r.(*resolved).err
}

// resolve turns a host string into an endpoint. Precedence: values in the
// host string, then ~/.ssh/config, then Options. For jump hosts (target ==
// false) Options.User/Port/Proxy do not apply: a jump host defaults to root on
// port 22 (like Kamal's ssh.proxy) and only follows its own ProxyJump.
//
// chain, when non-empty, is the rest of a comma-separated ProxyJump list: the
// host is reached through chain's last element, which is reached through the
// elements before it.
func (p *Pool) resolve(spec string, target bool, chain []string, depth int) (*endpoint, error) {
	if depth > maxJumpDepth {
		return nil, fmt.Errorf("ssh %s: ProxyJump chain deeper than %d (a loop in ssh config?)", spec, maxJumpDepth)
	}
	hs, err := parseHostSpec(spec)
	if err != nil {
		return nil, fmt.Errorf("ssh %s: %w", spec, err)
	}
	cfg, err := p.sshConfig()
	if err != nil {
		return nil, fmt.Errorf("ssh %s: %w", spec, err)
	}
	hc := cfg.lookup(hs.host)

	ep := &endpoint{display: spec, alias: hs.host}
	ep.user = firstString(hs.user, hc.User)
	ep.port = firstInt(hs.port, hc.Port)
	if target {
		ep.user = firstString(ep.user, p.opts.User)
		ep.port = firstInt(ep.port, p.opts.Port)
	}
	ep.user = firstString(ep.user, "root")
	ep.port = firstInt(ep.port, 22)

	tk := tokens{home: p.home, host: hs.host, user: ep.user, localUser: localUser(), alias: hs.host, port: ep.port}
	ep.hostname = hs.host
	if hc.HostName != "" {
		ep.hostname = expandTokens(hc.HostName, tk)
	}
	tk.host = ep.hostname
	for _, f := range hc.IdentityFiles {
		ep.identityFiles = append(ep.identityFiles, expandTokens(f, tk))
	}
	if err := p.hostKeySettings(ep, hc, tk); err != nil {
		return nil, fmt.Errorf("ssh %s: %w", spec, err)
	}

	if len(chain) == 0 {
		proxy := hc.ProxyJump
		if proxy == "" && target {
			proxy = p.opts.Proxy
		}
		if !strings.EqualFold(proxy, "none") {
			for _, j := range strings.Split(proxy, ",") {
				if j = strings.TrimSpace(j); j != "" {
					chain = append(chain, j)
				}
			}
		}
	}
	if n := len(chain); n > 0 {
		ep.jump, err = p.resolve(chain[n-1], false, chain[:n-1], depth+1)
		if err != nil {
			return nil, err
		}
	} else if target && p.opts.ProxyCommand != "" {
		ep.proxyCommand = proxyCommandLine(p.opts.ProxyCommand, ep)
	}

	ep.label = ep.user + "@" + ep.addr()
	ep.key = ep.label
	if ep.jump != nil {
		ep.key += " via " + ep.jump.key
	}
	if ep.proxyCommand != "" {
		ep.key += " via proxy_command"
	}
	return ep, nil
}

// Defaults of OpenSSH's UserKnownHostsFile and GlobalKnownHostsFile.
const (
	defaultUserKnownHosts   = "~/.ssh/known_hosts ~/.ssh/known_hosts2"
	defaultGlobalKnownHosts = "/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2"
)

// hostKeySettings fills in ep's StrictHostKeyChecking policy and known_hosts
// files. Options (like ssh's -o) win over ~/.ssh/config, which wins over
// the defaults; mrsk's default policy is accept-new, not OpenSSH's ask,
// because mrsk never prompts.
func (p *Pool) hostKeySettings(ep *endpoint, hc hostConfig, tk tokens) error {
	def := "accept-new"
	if len(p.opts.KnownHostsData) > 0 {
		def = "yes" // pinned: an unknown host is refused, nothing is written
	}
	ep.policyWord = firstString(strings.ToLower(p.opts.StrictHostKeyChecking), hc.StrictHostKeyChecking, def)
	policy, err := parseStrictHostKeyChecking(ep.policyWord)
	if err != nil {
		return err
	}
	ep.policy = policy

	files := func(opt string, cfg []string, def string) []string {
		list := strings.Fields(opt)
		if len(list) == 0 {
			list = cfg
		}
		if len(list) == 0 {
			list = strings.Fields(def)
		}
		var out []string
		for _, f := range list {
			if strings.EqualFold(f, "none") {
				// "none" anywhere means no file, as in OpenSSH.
				return nil
			}
			out = append(out, expandTokens(f, tk))
		}
		return out
	}
	userDefault := defaultUserKnownHosts
	if p.home == "" {
		userDefault = ""
	}
	ep.knownHosts.user = files(p.opts.KnownHostsFile, hc.UserKnownHostsFiles, userDefault)
	ep.knownHosts.global = files(p.opts.GlobalKnownHostsFile, hc.GlobalKnownHostsFiles, defaultGlobalKnownHosts)
	if len(p.opts.KnownHostsData) > 0 {
		path, err := p.memKnownHosts()
		if err != nil {
			return fmt.Errorf("known_hosts from the environment: %w", err)
		}
		ep.knownHosts.global = append([]string{path}, ep.knownHosts.global...)
	}
	if p.home == "" && p.opts.KnownHostsFile == "" && hc.UserKnownHostsFiles == nil {
		return errors.New("known_hosts: no file (HOME is not set and neither Options.KnownHostsFile nor UserKnownHostsFile is)")
	}
	return nil
}

// memKnownHosts is the path of KnownHostsData's memory file.
func (p *Pool) memKnownHosts() (string, error) {
	p.memKHOnce.Do(func() {
		p.memKHPath, p.memKHClose, p.memKHErr = memFile("mrsk-known-hosts", p.opts.KnownHostsData)
	})
	return p.memKHPath, p.memKHErr
}

func firstString(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func firstInt(vals ...int) int {
	for _, v := range vals {
		if v != 0 {
			return v
		}
	}
	return 0
}

func localUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}
