import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A server certificate signed by a local CA, as the README's openssl recipe makes them. */
export interface LocalCaCertificate {
  /** The CA certificate: the one file a phone is told to trust. */
  ca: string;
  /** The server certificate and its key, for `serve --tls-cert/--tls-key`. */
  cert: string;
  key: string;
  /**
   * Base64 SHA-256 of the server certificate's SubjectPublicKeyInfo: what Chromium's
   * `--ignore-certificate-errors-spki-list` takes to trust exactly this certificate.
   */
  spki: string;
}

/**
 * The README's recipe without mkcert, run by the openssl binary in `dir`: a local CA and a server
 * certificate it signs for `names` (host names become DNS entries, IPv4/IPv6 addresses IP ones).
 */
export function makeLocalCaCertificate(dir: string, names: readonly string[]): LocalCaCertificate {
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  openssl(
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3650'],
    ...['-subj', '/CN=Lookalike local CA', '-keyout', file('ca-key.pem'), '-out', file('ca.pem')]
  );
  const altNames = names.map((name) => (/^[\d.]+$|:/.test(name) ? `IP:${name}` : `DNS:${name}`));
  writeFileSync(
    file('server.ext'),
    `subjectAltName=${altNames.join(',')}\n` +
      'extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n'
  );
  openssl(
    ...['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=lookalike'],
    ...['-keyout', file('server-key.pem'), '-out', file('server.csr')]
  );
  openssl(
    ...['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem')],
    ...['-CAkey', file('ca-key.pem'), '-CAcreateserial', '-days', '397'],
    ...['-extfile', file('server.ext'), '-out', file('server.pem')]
  );
  const certificate = new X509Certificate(readFileSync(file('server.pem')));
  const spki = createHash('sha256')
    .update(certificate.publicKey.export({ type: 'spki', format: 'der' }))
    .digest('base64');
  return { ca: file('ca.pem'), cert: file('server.pem'), key: file('server-key.pem'), spki };
}
