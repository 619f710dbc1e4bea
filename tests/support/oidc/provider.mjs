// A real OpenID Connect provider (the certified `oidc-provider` package) for Quarry's single
// sign-on tests, on loopback only. Its people live in a JSON file that is read again at every
// sign-in and token, so a test changes someone's groups, or removes them, between two sign-ins.
//
//   node provider.mjs --port 8123 --users users.json --client-id quarry \
//        --client-secret s3cret --redirect-uri http://127.0.0.1:8000/accounts/oidc/callback/
//
// users.json: {"mia": {"sub": "u-1", "password": "pw", "email": "mia@example.com",
//                      "name": "Mia", "groups": ["eng-all"]}}  (the key is the login name)
//
// Sign-in is a plain HTML form (login, password) checked against that file; consent is given at
// once. PKCE (S256) is required of every client, so a relying party that skips it, or sends a
// code_verifier that does not match, gets no tokens.

import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: options } = parseArgs({
  options: {
    port: { type: 'string' },
    users: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string' },
  },
});
for (const name of ['port', 'users', 'client-id', 'client-secret', 'redirect-uri']) {
  if (!options[name]) {
    console.error(`missing --${name}`);
    process.exit(2);
  }
}

const issuer = `http://127.0.0.1:${options.port}`;

function people() {
  return JSON.parse(readFileSync(options.users, 'utf8'));
}

function personBySub(sub) {
  return Object.entries(people()).find(([, person]) => person.sub === sub);
}

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: 'test-key-1', alg: 'RS256', use: 'sig' };
}

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: options['client-id'],
      client_secret: options['client-secret'],
      redirect_uris: [options['redirect-uri']],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
  ],
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['preferred_username', 'name'],
    groups: ['groups'],
  },
  async findAccount(ctx, sub) {
    const found = personBySub(sub);
    if (!found) return undefined; // removed from the provider
    return {
      accountId: sub,
      async claims() {
        const [login, person] = personBySub(sub) ?? found;
        return {
          sub,
          preferred_username: person.username ?? login,
          name: person.name ?? login,
          email: person.email,
          email_verified: true,
          groups: person.groups ?? [],
        };
      },
    };
  },
  features: { devInteractions: { enabled: false } },
  cookies: { keys: ['quarry-test-provider-cookie-key'] },
  jwks: { keys: [signingKey()] },
});

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginPage(res, uid, error) {
  res.statusCode = 200;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.end(`<!doctype html><title>Test provider sign-in</title>
<form method="post" action="/interaction/${escape(uid)}/login">
  ${error ? `<p role="alert">${escape(error)}</p>` : ''}
  <input name="login"><input name="password" type="password">
  <button type="submit">Sign in</button>
</form>`);
}

async function formBody(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

async function consent(req, res, interaction) {
  const { prompt: { details }, params, session } = interaction;
  const grant = interaction.grantId
    ? await provider.Grant.find(interaction.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } });
}

async function interaction(req, res, uid, submitted) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'consent') {
    await consent(req, res, details);
  } else if (!submitted) {
    loginPage(res, uid);
  } else {
    const form = await formBody(req);
    const person = people()[form.get('login') ?? ''];
    if (!person || person.password !== form.get('password')) {
      loginPage(res, uid, 'Wrong login or password.');
      return;
    }
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: person.sub } },
      { mergeWithLastSubmission: false },
    );
  }
}

const handler = provider.callback();
const server = http.createServer((req, res) => {
  const path = new URL(req.url, issuer).pathname;
  const match = path.match(/^\/interaction\/([\w-]+)(\/login)?$/);
  if (!match) {
    handler(req, res);
    return;
  }
  const submitted = req.method === 'POST' && Boolean(match[2]);
  interaction(req, res, match[1], submitted).catch((error) => {
    res.statusCode = 400;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end(`interaction failed: ${error.message}`);
  });
});
server.listen(Number(options.port), '127.0.0.1', () => {
  console.log(`oidc provider ready at ${issuer}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
