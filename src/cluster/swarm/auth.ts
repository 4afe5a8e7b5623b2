// Proof of the cluster token on one connection. After the Noise handshake each side sends
//
//   HMAC-SHA256(authKey, context || len(handshakeHash) || handshakeHash || senderPublicKey)
//
// where authKey is derived from the token (ClusterToken.authKey()). The handshake hash makes a
// proof good for this connection only (no replay), and the sender's public key makes the two
// proofs of one connection differ (a peer cannot reflect ours back). The connection is already
// encrypted, so a proof is never seen by anyone but the peer it is meant for.
import { createHmac, timingSafeEqual } from 'node:crypto';

const PROOF_CONTEXT = 'corral/connection-proof/v1';

export function connectionProof(authKey: Buffer, handshakeHash: Buffer, senderPublicKey: Buffer): Buffer {
  return createHmac('sha256', authKey)
    .update(PROOF_CONTEXT, 'utf8')
    .update(Buffer.from([handshakeHash.length]))
    .update(handshakeHash)
    .update(senderPublicKey)
    .digest();
}

/** Constant-time check of the proof `proof` that `senderPublicKey` sent on this connection. */
export function verifyConnectionProof(authKey: Buffer, handshakeHash: Buffer, senderPublicKey: Buffer, proof: Buffer): boolean {
  const want = connectionProof(authKey, handshakeHash, senderPublicKey);
  return proof.length === want.length && timingSafeEqual(proof, want);
}
