// A throwaway OpenID Connect provider for Suanli's single sign-on tests: the `oidc-provider`
// npm package (a certified OpenID provider), configured for a lab on 127.0.0.1. Started by
// scripts/lab/oidc-up.sh, which copies this file next to the package it installed; not for
// production (plain http, keys in a file, one password for everyone, everything in memory).
//
//   OIDC_LAB_PORT           port on 127.0.0.1; the issuer is http://127.0.0.1:PORT  (default 9400)
//   OIDC_LAB_CLIENT_SECRET  the secret of the client `suanli`           (default suanli-lab-secret)
//   OIDC_LAB_REDIRECT_URIS  more redirect URIs for `suanli`, space-separated        (default none)
//   OIDC_LAB_PASSWORD       every lab user's password                       (default lab-password)
//   OIDC_LAB_KEYS           the file that keeps the signing keys (made on first start)
//
// One confidential client, `suanli` (client_secret_basic), for the authorization code
// flow with PKCE (S256) and the device flow (RFC 8628). Its redirect URIs are Suanli's callback
// on 127.0.0.1 and localhost: as a "native" client, any port of a loopback address is accepted
// (RFC 8252, 7.3), so a test server on a random port needs no configuration here.
//
// Sign-in: a plain HTML form at /interaction/UID (fields `login` and `password`, posted back to
// the same URL; /interaction/UID/abort declines), which a test drives with any HTTP client. The
// login must be one of USERS below and the password OIDC_LAB_PASSWORD (default lab-password);
// anything else shows the form again with "wrong name or password". Consent is given without
// asking (the client is first-party). The claim `suanli_roles` ("organization:role") comes with
// the scope `suanli`: in the ID token when the claims parameter asks for it, else from userinfo
// (OIDC Core 5.4: with an access token issued, scope claims are userinfo's).
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

import Provider, { interactionPolicy } from 'oidc-provider';

const PORT = Number(process.env.OIDC_LAB_PORT || 9400);
const ISSUER = `http://127.0.0.1:${PORT}`;
const SECRET = process.env.OIDC_LAB_CLIENT_SECRET || 'suanli-lab-secret';
const PASSWORD = process.env.OIDC_LAB_PASSWORD || 'lab-password';
const KEYS = process.env.OIDC_LAB_KEYS || new URL('./jwks.json', import.meta.url).pathname;
const CALLBACK = '/api/v1/auth/oidc/callback';
const EXTRA_REDIRECTS = (process.env.OIDC_LAB_REDIRECT_URIS || '').split(/\s+/).filter(Boolean);

// The lab's people. `suanli_roles` is what Suanli maps to memberships (settings oidc_roles_claim).
const USERS = {
  alice: { name: 'Alice Admin', email: 'alice@acme.example', suanli_roles: ['acme:org-admin', 'acme:member'] },
  bob: { name: 'Bob Viewer', email: 'bob@acme.example', suanli_roles: ['acme:viewer'] },
  carol: { name: 'Carol Nobody', email: 'carol@acme.example', suanli_roles: [] },
  mallory: { name: 'Mallory', email: 'mallory@acme.example', suanli_roles: ['acme:overlord'] },
  ghost: { name: 'Ghost', email: 'ghost@nowhere.example', suanli_roles: ['no-such-org:member'] },
};

function signingKeys() {
  // RS256, kept in a file so that a restarted lab signs with the keys clients have cached
  if (existsSync(KEYS)) return JSON.parse(readFileSync(KEYS, 'utf8'));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: `lab-${Date.now().toString(36)}`, use: 'sig', alg: 'RS256' };
  const jwks = { keys: [jwk] };
  writeFileSync(KEYS, JSON.stringify(jwks), { mode: 0o600 });
  return jwks;
}

const page = (title, body) => `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head>
<body><h1>${title}</h1>${body}</body></html>`;

// Native clients are asked to consent at every sign-in; this one is first-party: consent is
// given by loadExistingGrant below, without a page.
const policy = interactionPolicy.base();
policy.get('consent').checks.remove('native_client_prompt');

const configuration = {
  interactions: { policy, url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  clients: [
    {
      client_id: 'suanli',
      client_secret: SECRET,
      client_name: 'Suanli',
      application_type: 'native', // loopback redirect URIs on any port (RFC 8252)
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'],
      response_types: ['code'],
      redirect_uris: [`http://127.0.0.1${CALLBACK}`, `http://localhost${CALLBACK}`, ...EXTRA_REDIRECTS],
    },
  ],
  jwks: signingKeys(),
  cookies: { keys: [`suanli-oidc-lab-${SECRET}`] },
  pkce: { required: () => true, methods: ['S256'] },
  scopes: ['openid', 'email', 'profile', 'suanli'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    suanli: ['suanli_roles'],
  },
  features: {
    devInteractions: { enabled: false }, // ours below: a real password check, unknown users refused
    deviceFlow: {
      enabled: true,
      charset: 'base-20',
      mask: '****-****',
      async userCodeInputSource(ctx, form, out, err) {
        const msg = err ? '<p>That code is not right (or it expired); try again.</p>' : '<p>Enter the code shown by the CLI.</p>';
        ctx.body = page('Sign-in', `${msg}${form}<button type="submit" form="op.deviceInputForm">Continue</button>`);
      },
      async userCodeConfirmSource(ctx, form, client, deviceInfo, userCode) {
        ctx.body = page('Confirm the device', `<p>${client.clientName || client.clientId} asks to sign you in.
<code>${userCode}</code></p>${form}<button type="submit" form="op.deviceConfirmForm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" value="yes" name="abort">Abort</button>`);
      },
      async successSource(ctx) {
        ctx.body = page('Signed in', '<p>You are signed in; go back to the CLI.</p>');
      },
    },
  },
  async findAccount(ctx, id) {
    if (!Object.hasOwn(USERS, id)) return undefined;
    const user = USERS[id];
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          preferred_username: id,
          name: user.name,
          email: user.email,
          email_verified: true,
          suanli_roles: user.suanli_roles,
        };
      },
    };
  },
  // First-party client: consent without asking (else a consent page would follow the login form).
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      const grant = await ctx.oidc.provider.Grant.find(grantId);
      if (grant) return grant;
    }
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile suanli');
    await grant.save();
    return grant;
  },
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    DeviceCode: 600,
    Grant: 3600,
    IdToken: 600,
    Interaction: 600,
    Session: 3600,
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Error', `<pre>${Object.entries(out).map(([k, v]) => `${k}: ${String(v).replace(/</g, '&lt;')}`).join('\n')}</pre>`);
  },
};

const provider = new Provider(ISSUER, configuration);

// The sign-in pages (what devInteractions would be, with the login checked).
const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const loginForm = (uid, message = '') => page('Sign-in', `${message ? `<p class="error">${escape(message)}</p>` : ''}
<form method="post" action="/interaction/${uid}">
<input type="text" name="login" required autofocus> <input type="password" name="password" required>
<button type="submit">Sign in</button></form><p><a href="/interaction/${uid}/abort">Cancel</a></p>`);

async function formBody(req) {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > 10000) break;
  }
  return Object.fromEntries(new URLSearchParams(text));
}

provider.use(async (ctx, next) => {
  const match = /^\/interaction\/([\w-]+)(\/abort)?$/.exec(ctx.path);
  if (!match) return next();
  ctx.set('cache-control', 'no-store');
  const [, uid, abort] = match;
  let details;
  try {
    details = await provider.interactionDetails(ctx.req, ctx.res);
  } catch (err) {
    ctx.status = 400;
    ctx.body = page('Sign-in expired', '<p>This sign-in is unknown or expired; start again from the application.</p>');
    return undefined;
  }
  if (details.uid !== uid) ctx.throw(400, 'interaction mismatch');
  let result;
  if (abort) {
    result = { error: 'access_denied', error_description: 'End-User aborted interaction' };
  } else if (details.prompt.name !== 'login') {
    result = {}; // consent: given by loadExistingGrant
  } else if (ctx.method === 'GET') {
    ctx.type = 'html';
    ctx.body = loginForm(uid);
    return undefined;
  } else if (ctx.method === 'POST') {
    const { login = '', password = '' } = await formBody(ctx.req);
    if (!Object.hasOwn(USERS, login) || password !== PASSWORD) {
      ctx.type = 'html';
      ctx.body = loginForm(uid, 'wrong name or password');
      return undefined;
    }
    result = { login: { accountId: login } };
  } else {
    ctx.throw(405);
  }
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  ctx.status = 303;
  ctx.redirect(returnTo);
  return undefined;
});

provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.on('grant.error', (ctx, err) => console.error('grant.error', err.message, err.error_description || ''));

const server = provider.listen(PORT, '127.0.0.1', () => {
  console.log(`oidc-provider listening: ${ISSUER}/.well-known/openid-configuration`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
