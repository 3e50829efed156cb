// A minimal PostgreSQL client: startup, SCRAM-SHA-256 auth, simple queries.
'use strict';
const crypto = require('crypto');
const net = require('net');

function connect(url) {
  const u = new URL(url);
  const sock = net.connect(Number(u.port || 5432), u.hostname);
  let buf = Buffer.alloc(0);
  let waiting = null;
  sock.on('data', (d) => { buf = Buffer.concat([buf, d]); if (waiting) waiting(); });
  sock.on('error', (e) => { if (waiting) waiting(e); else throw e; });
  const read = () => new Promise((resolve, reject) => {
    const attempt = (err) => {
      if (err) { waiting = null; return reject(err); }
      if (buf.length >= 5 && buf.length >= 1 + buf.readUInt32BE(1)) {
        const len = buf.readUInt32BE(1);
        const msg = { type: String.fromCharCode(buf[0]), body: buf.subarray(5, 1 + len) };
        buf = buf.subarray(1 + len);
        waiting = null;
        resolve(msg);
      } else waiting = attempt;
    };
    attempt();
  });
  const send = (type, payload) => {
    const head = Buffer.alloc(5);
    head.write(type, 0);
    head.writeUInt32BE(4 + payload.length, 1);
    sock.write(Buffer.concat([head, payload]));
  };
  const errorText = (body) => body.toString().split('\0').filter((f) => f[0] === 'M').map((f) => f.slice(1)).join('; ');
  const user = decodeURIComponent(u.username), password = decodeURIComponent(u.password);
  async function start() {
    const params = Buffer.from(`user\0${user}\0database\0${u.pathname.slice(1)}\0\0`);
    const head = Buffer.alloc(8);
    head.writeUInt32BE(8 + params.length, 0);
    head.writeUInt32BE(196608, 4);
    sock.write(Buffer.concat([head, params]));
    let firstBare, serverFirst, clientKey;
    for (;;) {
      const m = await read();
      if (m.type === 'E') throw new Error(errorText(m.body));
      if (m.type === 'Z') return;
      if (m.type !== 'R') continue;
      const code = m.body.readUInt32BE(0);
      if (code === 10) {
        firstBare = 'n=,r=' + crypto.randomBytes(18).toString('base64');
        const first = Buffer.from('n,,' + firstBare);
        const len = Buffer.alloc(4);
        len.writeInt32BE(first.length);
        send('p', Buffer.concat([Buffer.from('SCRAM-SHA-256\0'), len, first]));
      } else if (code === 11) {
        serverFirst = m.body.subarray(4).toString();
        const a = Object.fromEntries(serverFirst.split(',').map((kv) => [kv[0], kv.slice(2)]));
        const salted = crypto.pbkdf2Sync(password, Buffer.from(a.s, 'base64'), Number(a.i), 32, 'sha256');
        clientKey = crypto.createHmac('sha256', salted).update('Client Key').digest();
        const stored = crypto.createHash('sha256').update(clientKey).digest();
        const withoutProof = 'c=biws,r=' + a.r;
        const sig = crypto.createHmac('sha256', stored).update([firstBare, serverFirst, withoutProof].join(',')).digest();
        const proof = Buffer.from(clientKey.map((b, i) => b ^ sig[i]));
        send('p', Buffer.from(withoutProof + ',p=' + proof.toString('base64')));
      } else if (code === 3) {
        send('p', Buffer.from(password + '\0'));
      } else if (code !== 0 && code !== 12) {
        throw new Error('unsupported authentication request ' + code);
      }
    }
  }
  async function query(sql) {
    send('Q', Buffer.from(sql + '\0'));
    let rows = [], err = null;
    for (;;) {
      const m = await read();
      if (m.type === 'D') {
        const n = m.body.readUInt16BE(0);
        let off = 2;
        const row = [];
        for (let i = 0; i < n; i++) {
          const len = m.body.readInt32BE(off);
          off += 4;
          row.push(len < 0 ? null : m.body.subarray(off, off + len).toString());
          off += Math.max(len, 0);
        }
        rows.push(row);
      } else if (m.type === 'E') err = new Error(errorText(m.body));
      else if (m.type === 'Z') { if (err) throw err; return rows; }
    }
  }
  return start().then(() => ({ query, close: () => sock.end() }));
}

module.exports = { connect };
