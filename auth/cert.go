package auth

import "crypto/x509"

// CertIdentities lists the identities of a client certificate in the form
// Caller.CertIdentities uses: "uri:<URI>" for each URI SAN (SPIFFE ids, for
// example), "dns:<name>" for each DNS SAN and "cn:<common name>" for the
// subject's common name. The kind is part of each identity, so a DNS name
// can never be mistaken for a common name that happens to be spelt alike.
//
// Call it only with a certificate the TLS handshake verified against the
// configured client CAs.
func CertIdentities(cert *x509.Certificate) []string {
	if cert == nil {
		return nil
	}
	var ids []string
	for _, u := range cert.URIs {
		ids = append(ids, "uri:"+u.String())
	}
	for _, d := range cert.DNSNames {
		ids = append(ids, "dns:"+d)
	}
	if cn := cert.Subject.CommonName; cn != "" {
		ids = append(ids, "cn:"+cn)
	}
	return ids
}
