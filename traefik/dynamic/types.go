package dynamic

import (
	ptypes "github.com/traefik/paerser/types"
)

// The types below mirror the HTTP part of Traefik v3.6's dynamic
// configuration (pkg/config/dynamic) as far as labels reach it. paerser
// matches a label segment to a Go field name case-insensitively, so the
// field names are Traefik's; the yaml tags are the names its file provider
// reads. Fields that Traefik defaults to a non-zero value are pointers, so
// that an explicit zero ("false", "0") survives the trip into the file.
// Durations are paerser's Duration: the parser recognizes that exact type
// (a bare number is seconds), and it is written as a Go duration string.

// HTTP is the http section of a route file.
type HTTP struct {
	Routers     map[string]*Router     `yaml:"routers,omitempty"`
	Middlewares map[string]*Middleware `yaml:"middlewares,omitempty"`
	Services    map[string]*Service    `yaml:"services,omitempty"`
}

// Router is an HTTP router.
type Router struct {
	Rule          string         `yaml:"rule,omitempty"`
	RuleSyntax    string         `yaml:"ruleSyntax,omitempty"`
	Priority      int            `yaml:"priority,omitempty"`
	EntryPoints   []string       `yaml:"entryPoints,omitempty"`
	Middlewares   []string       `yaml:"middlewares,omitempty"`
	Service       string         `yaml:"service,omitempty"`
	TLS           *RouterTLS     `yaml:"tls,omitempty" label:"allowEmpty"`
	Observability *Observability `yaml:"observability,omitempty"`
}

// RouterTLS is a router's TLS: the presence of the section alone (a "tls"
// label set to true) makes the router serve TLS.
type RouterTLS struct {
	Options      string   `yaml:"options,omitempty"`
	CertResolver string   `yaml:"certResolver,omitempty"`
	Domains      []Domain `yaml:"domains,omitempty"`
}

// Domain is a certificate's main name and alternative names.
type Domain struct {
	Main string   `yaml:"main,omitempty"`
	SANs []string `yaml:"sans,omitempty"`
}

// Observability switches a router's access logs, metrics and tracing.
type Observability struct {
	AccessLogs     *bool  `yaml:"accessLogs,omitempty"`
	Metrics        *bool  `yaml:"metrics,omitempty"`
	Tracing        *bool  `yaml:"tracing,omitempty"`
	TraceVerbosity string `yaml:"traceVerbosity,omitempty"`
}

// Service is an HTTP service. Labels reach only the load balancer: mrsk
// routes a role to one service with one server, the role's container.
type Service struct {
	LoadBalancer *LoadBalancer `yaml:"loadBalancer,omitempty"`
	// Weighted is mrsk's own (a canary's split), never from labels.
	Weighted *Weighted `yaml:"weighted,omitempty" label:"-"`
}

// Weighted is a weighted round robin over other services of the file.
type Weighted struct {
	Services []WeightedService `yaml:"services"`
}

// WeightedService is one service of a Weighted and its share.
type WeightedService struct {
	Name   string `yaml:"name"`
	Weight int    `yaml:"weight"`
}

// LoadBalancer is a servers load balancer.
type LoadBalancer struct {
	Sticky   *Sticky  `yaml:"sticky,omitempty" label:"allowEmpty"`
	Servers  []Server `yaml:"servers,omitempty" label-slice-as-struct:"server"`
	Strategy string   `yaml:"strategy,omitempty"`
	// HealthCheck is Traefik's own active check of the server.
	HealthCheck        *ServerHealthCheck  `yaml:"healthCheck,omitempty"`
	PassiveHealthCheck *PassiveHealthCheck `yaml:"passiveHealthCheck,omitempty"`
	PassHostHeader     *bool               `yaml:"passHostHeader,omitempty"`
	ResponseForwarding *ResponseForwarding `yaml:"responseForwarding,omitempty"`
	ServersTransport   string              `yaml:"serversTransport,omitempty"`
}

// Server is one server of a load balancer. Labels give its scheme and port
// (applied to the container's address); the file has only its url.
type Server struct {
	URL          string `yaml:"url,omitempty"`
	Weight       *int   `yaml:"weight,omitempty"`
	PreservePath bool   `yaml:"preservePath,omitempty"`
	Scheme       string `yaml:"-"`
	Port         string `yaml:"-"`
}

// Sticky is cookie-based session affinity.
type Sticky struct {
	Cookie *Cookie `yaml:"cookie,omitempty" label:"allowEmpty"`
}

// Cookie is the sticky cookie.
type Cookie struct {
	Name     string  `yaml:"name,omitempty"`
	Secure   bool    `yaml:"secure,omitempty"`
	HTTPOnly bool    `yaml:"httpOnly,omitempty"`
	SameSite string  `yaml:"sameSite,omitempty"`
	MaxAge   int     `yaml:"maxAge,omitempty"`
	Path     *string `yaml:"path,omitempty"`
	Domain   string  `yaml:"domain,omitempty"`
}

// ResponseForwarding tunes how responses are copied to the client.
type ResponseForwarding struct {
	FlushInterval *ptypes.Duration `yaml:"flushInterval,omitempty"`
}

// ServerHealthCheck is Traefik's active health check of the servers.
type ServerHealthCheck struct {
	Scheme            string            `yaml:"scheme,omitempty"`
	Mode              string            `yaml:"mode,omitempty"`
	Path              string            `yaml:"path,omitempty"`
	Method            string            `yaml:"method,omitempty"`
	Status            int               `yaml:"status,omitempty"`
	Port              int               `yaml:"port,omitempty"`
	Interval          *ptypes.Duration  `yaml:"interval,omitempty"`
	UnhealthyInterval *ptypes.Duration  `yaml:"unhealthyInterval,omitempty"`
	Timeout           *ptypes.Duration  `yaml:"timeout,omitempty"`
	Hostname          string            `yaml:"hostname,omitempty"`
	FollowRedirects   *bool             `yaml:"followRedirects,omitempty"`
	Headers           map[string]string `yaml:"headers,omitempty"`
}

// PassiveHealthCheck marks a server down after failed requests.
type PassiveHealthCheck struct {
	FailureWindow     *ptypes.Duration `yaml:"failureWindow,omitempty"`
	MaxFailedAttempts *int             `yaml:"maxFailedAttempts,omitempty"`
}

// Middleware is one HTTP middleware: exactly one of its fields is set.
type Middleware struct {
	AddPrefix         *AddPrefix         `yaml:"addPrefix,omitempty"`
	StripPrefix       *StripPrefix       `yaml:"stripPrefix,omitempty"`
	StripPrefixRegex  *StripPrefixRegex  `yaml:"stripPrefixRegex,omitempty"`
	ReplacePath       *ReplacePath       `yaml:"replacePath,omitempty"`
	ReplacePathRegex  *ReplacePathRegex  `yaml:"replacePathRegex,omitempty"`
	Chain             *Chain             `yaml:"chain,omitempty"`
	IPWhiteList       *IPWhiteList       `yaml:"ipWhiteList,omitempty"` // deprecated, still read by v3.6
	IPAllowList       *IPAllowList       `yaml:"ipAllowList,omitempty"`
	Headers           *Headers           `yaml:"headers,omitempty"`
	Errors            *ErrorPage         `yaml:"errors,omitempty"`
	RateLimit         *RateLimit         `yaml:"rateLimit,omitempty"`
	RedirectRegex     *RedirectRegex     `yaml:"redirectRegex,omitempty"`
	RedirectScheme    *RedirectScheme    `yaml:"redirectScheme,omitempty"`
	BasicAuth         *BasicAuth         `yaml:"basicAuth,omitempty"`
	DigestAuth        *DigestAuth        `yaml:"digestAuth,omitempty"`
	ForwardAuth       *ForwardAuth       `yaml:"forwardAuth,omitempty"`
	InFlightReq       *InFlightReq       `yaml:"inFlightReq,omitempty"`
	Buffering         *Buffering         `yaml:"buffering,omitempty"`
	CircuitBreaker    *CircuitBreaker    `yaml:"circuitBreaker,omitempty"`
	Compress          *Compress          `yaml:"compress,omitempty" label:"allowEmpty"`
	PassTLSClientCert *PassTLSClientCert `yaml:"passTLSClientCert,omitempty"`
	Retry             *Retry             `yaml:"retry,omitempty"`
	ContentType       *ContentType       `yaml:"contentType,omitempty" label:"allowEmpty"`
	GrpcWeb           *GrpcWeb           `yaml:"grpcWeb,omitempty"`
}

// AddPrefix adds a path prefix.
type AddPrefix struct {
	Prefix string `yaml:"prefix,omitempty"`
}

// StripPrefix removes path prefixes.
type StripPrefix struct {
	Prefixes   []string `yaml:"prefixes,omitempty"`
	ForceSlash *bool    `yaml:"forceSlash,omitempty"`
}

// StripPrefixRegex removes path prefixes matching regular expressions.
type StripPrefixRegex struct {
	Regex []string `yaml:"regex,omitempty"`
}

// ReplacePath replaces the path.
type ReplacePath struct {
	Path string `yaml:"path,omitempty"`
}

// ReplacePathRegex rewrites the path with a regular expression.
type ReplacePathRegex struct {
	Regex       string `yaml:"regex,omitempty"`
	Replacement string `yaml:"replacement,omitempty"`
}

// Chain applies other middlewares in order.
type Chain struct {
	Middlewares []string `yaml:"middlewares,omitempty"`
}

// IPWhiteList is the deprecated ipAllowList, without rejectStatusCode.
type IPWhiteList struct {
	SourceRange []string    `yaml:"sourceRange,omitempty"`
	IPStrategy  *IPStrategy `yaml:"ipStrategy,omitempty" label:"allowEmpty"`
}

// IPAllowList admits clients by address.
type IPAllowList struct {
	SourceRange      []string    `yaml:"sourceRange,omitempty"`
	IPStrategy       *IPStrategy `yaml:"ipStrategy,omitempty" label:"allowEmpty"`
	RejectStatusCode int         `yaml:"rejectStatusCode,omitempty"`
}

// IPStrategy says how the client address is found.
type IPStrategy struct {
	Depth       int      `yaml:"depth,omitempty"`
	ExcludedIPs []string `yaml:"excludedIPs,omitempty"`
	IPv6Subnet  *int     `yaml:"ipv6Subnet,omitempty"`
}

// Headers sets request and response headers (custom, CORS, security).
type Headers struct {
	CustomRequestHeaders              map[string]string `yaml:"customRequestHeaders,omitempty"`
	CustomResponseHeaders             map[string]string `yaml:"customResponseHeaders,omitempty"`
	AccessControlAllowCredentials     bool              `yaml:"accessControlAllowCredentials,omitempty"`
	AccessControlAllowHeaders         []string          `yaml:"accessControlAllowHeaders,omitempty"`
	AccessControlAllowMethods         []string          `yaml:"accessControlAllowMethods,omitempty"`
	AccessControlAllowOriginList      []string          `yaml:"accessControlAllowOriginList,omitempty"`
	AccessControlAllowOriginListRegex []string          `yaml:"accessControlAllowOriginListRegex,omitempty"`
	AccessControlExposeHeaders        []string          `yaml:"accessControlExposeHeaders,omitempty"`
	AccessControlMaxAge               int64             `yaml:"accessControlMaxAge,omitempty"`
	AddVaryHeader                     bool              `yaml:"addVaryHeader,omitempty"`
	AllowedHosts                      []string          `yaml:"allowedHosts,omitempty"`
	HostsProxyHeaders                 []string          `yaml:"hostsProxyHeaders,omitempty"`
	SSLProxyHeaders                   map[string]string `yaml:"sslProxyHeaders,omitempty"`
	STSSeconds                        *int64            `yaml:"stsSeconds,omitempty"`
	STSIncludeSubdomains              bool              `yaml:"stsIncludeSubdomains,omitempty"`
	STSPreload                        bool              `yaml:"stsPreload,omitempty"`
	ForceSTSHeader                    bool              `yaml:"forceSTSHeader,omitempty"`
	FrameDeny                         bool              `yaml:"frameDeny,omitempty"`
	CustomFrameOptionsValue           string            `yaml:"customFrameOptionsValue,omitempty"`
	ContentTypeNosniff                bool              `yaml:"contentTypeNosniff,omitempty"`
	BrowserXSSFilter                  bool              `yaml:"browserXssFilter,omitempty"`
	CustomBrowserXSSValue             string            `yaml:"customBrowserXSSValue,omitempty"`
	ContentSecurityPolicy             string            `yaml:"contentSecurityPolicy,omitempty"`
	ContentSecurityPolicyReportOnly   string            `yaml:"contentSecurityPolicyReportOnly,omitempty"`
	PublicKey                         string            `yaml:"publicKey,omitempty"`
	ReferrerPolicy                    string            `yaml:"referrerPolicy,omitempty"`
	PermissionsPolicy                 string            `yaml:"permissionsPolicy,omitempty"`
	IsDevelopment                     bool              `yaml:"isDevelopment,omitempty"`
	FeaturePolicy                     *string           `yaml:"featurePolicy,omitempty"`
	SSLRedirect                       *bool             `yaml:"sslRedirect,omitempty"`
	SSLTemporaryRedirect              *bool             `yaml:"sslTemporaryRedirect,omitempty"`
	SSLHost                           *string           `yaml:"sslHost,omitempty"`
	SSLForceHost                      *bool             `yaml:"sslForceHost,omitempty"`
}

// ErrorPage serves error pages from another service.
type ErrorPage struct {
	Status         []string       `yaml:"status,omitempty"`
	StatusRewrites map[string]int `yaml:"statusRewrites,omitempty"`
	Service        string         `yaml:"service,omitempty"`
	Query          string         `yaml:"query,omitempty"`
}

// RateLimit limits the request rate per source.
type RateLimit struct {
	Average         int64            `yaml:"average,omitempty"`
	Period          *ptypes.Duration `yaml:"period,omitempty"`
	Burst           *int64           `yaml:"burst,omitempty"`
	SourceCriterion *SourceCriterion `yaml:"sourceCriterion,omitempty"`
	Redis           *Redis           `yaml:"redis,omitempty"`
}

// SourceCriterion groups requests by source.
type SourceCriterion struct {
	IPStrategy        *IPStrategy `yaml:"ipStrategy,omitempty"`
	RequestHeaderName string      `yaml:"requestHeaderName,omitempty"`
	RequestHost       bool        `yaml:"requestHost,omitempty"`
}

// Redis is the rate limiter's shared store.
type Redis struct {
	Endpoints      []string         `yaml:"endpoints,omitempty"`
	TLS            *ClientTLS       `yaml:"tls,omitempty"`
	Username       string           `yaml:"username,omitempty"`
	Password       string           `yaml:"password,omitempty"`
	DB             int              `yaml:"db,omitempty"`
	PoolSize       int              `yaml:"poolSize,omitempty"`
	MinIdleConns   int              `yaml:"minIdleConns,omitempty"`
	MaxActiveConns int              `yaml:"maxActiveConns,omitempty"`
	ReadTimeout    *ptypes.Duration `yaml:"readTimeout,omitempty"`
	WriteTimeout   *ptypes.Duration `yaml:"writeTimeout,omitempty"`
	DialTimeout    *ptypes.Duration `yaml:"dialTimeout,omitempty"`
}

// ClientTLS is TLS towards another server (forward auth, Redis).
type ClientTLS struct {
	CA                 string `yaml:"ca,omitempty"`
	Cert               string `yaml:"cert,omitempty"`
	Key                string `yaml:"key,omitempty"`
	InsecureSkipVerify bool   `yaml:"insecureSkipVerify,omitempty"`
	CAOptional         *bool  `yaml:"caOptional,omitempty"` // forward auth only, deprecated
}

// RedirectRegex redirects by a regular expression over the URL.
type RedirectRegex struct {
	Regex       string `yaml:"regex,omitempty"`
	Replacement string `yaml:"replacement,omitempty"`
	Permanent   bool   `yaml:"permanent,omitempty"`
}

// RedirectScheme redirects to another scheme (and port).
type RedirectScheme struct {
	Scheme    string `yaml:"scheme,omitempty"`
	Port      string `yaml:"port,omitempty"`
	Permanent bool   `yaml:"permanent,omitempty"`
}

// BasicAuth asks for a user and password (htpasswd hashes).
type BasicAuth struct {
	Users        []string `yaml:"users,omitempty"`
	UsersFile    string   `yaml:"usersFile,omitempty"`
	Realm        string   `yaml:"realm,omitempty"`
	RemoveHeader bool     `yaml:"removeHeader,omitempty"`
	HeaderField  string   `yaml:"headerField,omitempty"`
}

// DigestAuth asks for a user and password by digest.
type DigestAuth struct {
	Users        []string `yaml:"users,omitempty"`
	UsersFile    string   `yaml:"usersFile,omitempty"`
	RemoveHeader bool     `yaml:"removeHeader,omitempty"`
	Realm        string   `yaml:"realm,omitempty"`
	HeaderField  string   `yaml:"headerField,omitempty"`
}

// ForwardAuth delegates authentication to another server.
type ForwardAuth struct {
	Address                  string     `yaml:"address,omitempty"`
	TLS                      *ClientTLS `yaml:"tls,omitempty"`
	TrustForwardHeader       bool       `yaml:"trustForwardHeader,omitempty"`
	AuthResponseHeaders      []string   `yaml:"authResponseHeaders,omitempty"`
	AuthResponseHeadersRegex string     `yaml:"authResponseHeadersRegex,omitempty"`
	AuthRequestHeaders       []string   `yaml:"authRequestHeaders,omitempty"`
	MaxResponseBodySize      *int64     `yaml:"maxResponseBodySize,omitempty"`
	AddAuthCookiesToResponse []string   `yaml:"addAuthCookiesToResponse,omitempty"`
	HeaderField              string     `yaml:"headerField,omitempty"`
	ForwardBody              bool       `yaml:"forwardBody,omitempty"`
	MaxBodySize              *int64     `yaml:"maxBodySize,omitempty"`
	PreserveLocationHeader   bool       `yaml:"preserveLocationHeader,omitempty"`
	PreserveRequestMethod    bool       `yaml:"preserveRequestMethod,omitempty"`
}

// InFlightReq limits concurrent requests per source.
type InFlightReq struct {
	Amount          int64            `yaml:"amount,omitempty"`
	SourceCriterion *SourceCriterion `yaml:"sourceCriterion,omitempty"`
}

// Buffering buffers request and response bodies.
type Buffering struct {
	MaxRequestBodyBytes  int64  `yaml:"maxRequestBodyBytes,omitempty"`
	MemRequestBodyBytes  int64  `yaml:"memRequestBodyBytes,omitempty"`
	MaxResponseBodyBytes int64  `yaml:"maxResponseBodyBytes,omitempty"`
	MemResponseBodyBytes int64  `yaml:"memResponseBodyBytes,omitempty"`
	RetryExpression      string `yaml:"retryExpression,omitempty"`
}

// CircuitBreaker stops calling a failing service.
type CircuitBreaker struct {
	Expression       string           `yaml:"expression,omitempty"`
	CheckPeriod      *ptypes.Duration `yaml:"checkPeriod,omitempty"`
	FallbackDuration *ptypes.Duration `yaml:"fallbackDuration,omitempty"`
	RecoveryDuration *ptypes.Duration `yaml:"recoveryDuration,omitempty"`
	ResponseCode     int              `yaml:"responseCode,omitempty"`
}

// Compress compresses responses; "compress: true" alone enables it.
type Compress struct {
	ExcludedContentTypes []string `yaml:"excludedContentTypes,omitempty"`
	IncludedContentTypes []string `yaml:"includedContentTypes,omitempty"`
	MinResponseBodyBytes int      `yaml:"minResponseBodyBytes,omitempty"`
	Encodings            []string `yaml:"encodings,omitempty"`
	DefaultEncoding      string   `yaml:"defaultEncoding,omitempty"`
}

// PassTLSClientCert passes the client certificate to the server.
type PassTLSClientCert struct {
	PEM  bool                      `yaml:"pem,omitempty"`
	Info *TLSClientCertificateInfo `yaml:"info,omitempty"`
}

// TLSClientCertificateInfo selects what of the client certificate is passed.
type TLSClientCertificateInfo struct {
	NotAfter     bool                 `yaml:"notAfter,omitempty"`
	NotBefore    bool                 `yaml:"notBefore,omitempty"`
	Sans         bool                 `yaml:"sans,omitempty"`
	SerialNumber bool                 `yaml:"serialNumber,omitempty"`
	Subject      *CertificateDNInfo   `yaml:"subject,omitempty"`
	Issuer       *CertificateDNIssuer `yaml:"issuer,omitempty"`
}

// CertificateDNInfo selects parts of the subject.
type CertificateDNInfo struct {
	Country            bool `yaml:"country,omitempty"`
	Province           bool `yaml:"province,omitempty"`
	Locality           bool `yaml:"locality,omitempty"`
	Organization       bool `yaml:"organization,omitempty"`
	OrganizationalUnit bool `yaml:"organizationalUnit,omitempty"`
	CommonName         bool `yaml:"commonName,omitempty"`
	SerialNumber       bool `yaml:"serialNumber,omitempty"`
	DomainComponent    bool `yaml:"domainComponent,omitempty"`
}

// CertificateDNIssuer selects parts of the issuer (no organizational unit).
type CertificateDNIssuer struct {
	Country         bool `yaml:"country,omitempty"`
	Province        bool `yaml:"province,omitempty"`
	Locality        bool `yaml:"locality,omitempty"`
	Organization    bool `yaml:"organization,omitempty"`
	CommonName      bool `yaml:"commonName,omitempty"`
	SerialNumber    bool `yaml:"serialNumber,omitempty"`
	DomainComponent bool `yaml:"domainComponent,omitempty"`
}

// Retry retries a request that got no answer.
type Retry struct {
	Attempts        int             `yaml:"attempts,omitempty"`
	InitialInterval ptypes.Duration `yaml:"initialInterval,omitempty"`
}

// ContentType lets Traefik detect a missing Content-Type.
type ContentType struct {
	AutoDetect *bool `yaml:"autoDetect,omitempty"`
}

// GrpcWeb converts gRPC-Web requests to gRPC.
type GrpcWeb struct {
	AllowOrigins []string `yaml:"allowOrigins,omitempty"`
}
