// The webview's page: the studio of the server in a frame, under a strict Content-Security-Policy.
// The page itself runs no script and loads nothing but that frame; the token goes in the frame URL's fragment
// (never sent over the network, never in a server log), where the studio picks it up: a cookie cannot work in a
// frame of another site (the server's cookie is SameSite=Strict).

export interface StudioPage {
  url: string; // the server's origin as the webview reaches it (vscode.env.asExternalUri in the extension)
  token: string;
  nonce: string;
}

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function studioHtml({ url, token, nonce }: StudioPage): string {
  const origin = new URL(url).origin;
  const csp = [`default-src 'none'`, `frame-src ${origin}`, `style-src 'nonce-${nonce}'`, `base-uri 'none'`, `form-action 'none'`].join('; ');
  const src = `${origin}/#token=${encodeURIComponent(token)}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeAttr(csp)}">
<title>acegit studio</title>
<style nonce="${escapeAttr(nonce)}">html, body, iframe { margin: 0; padding: 0; border: 0; width: 100%; height: 100%; overflow: hidden; }</style>
</head>
<body>
<iframe src="${escapeAttr(src)}" title="acegit studio" allow="autoplay"></iframe>
</body>
</html>
`;
}
