// The authenticated peers of a node: at most one open PeerLink per node id, and the messaging
// calls routed to it. A newer link for a node replaces the older one (hyperswarm may briefly hold
// two connections to a peer that dialed us while we dialed it).
import type { PeerLink } from './peer-link';
import { SwarmRequestError, type DatagramChannel, type PeerConnection } from './types';

export class PeerSet {
  private readonly links = new Map<string, PeerLink>();
  private readonly connections = new Map<string, PeerConnection>();

  get size(): number {
    return this.links.size;
  }

  has(nodeId: string): boolean {
    return this.links.get(nodeId)?.isOpen === true;
  }

  /** When the peer's open link last received anything (ms), if it has one. */
  lastHeard(nodeId: string): number | undefined {
    const link = this.links.get(nodeId);
    return link?.isOpen ? link.lastReceivedAt : undefined;
  }

  list(): PeerConnection[] {
    return [...this.connections.values()];
  }

  /** Adds a link that just authenticated; an older link to the same node is closed. */
  add(link: PeerLink, initiator: boolean, now: number): PeerConnection {
    const nodeId = link.remoteNodeId;
    const previous = this.links.get(nodeId);
    const conn: PeerConnection = { nodeId, initiator, since: now };
    this.links.set(nodeId, link);
    this.connections.set(nodeId, conn);
    previous?.close(); // its close is not a 'peer-down': remove() ignores it
    return conn;
  }

  /** Forgets a closed link; false when it was not (or no longer) its node's current link. */
  remove(link: PeerLink): boolean {
    const nodeId = link.remoteNodeId;
    if (this.links.get(nodeId) !== link) return false;
    this.links.delete(nodeId);
    this.connections.delete(nodeId);
    return true;
  }

  close(nodeId: string): void {
    this.links.get(nodeId)?.close();
  }

  /** Closes every link without reporting any as down (the node is stopping). */
  closeAll(): void {
    const links = [...this.links.values()];
    this.links.clear();
    this.connections.clear();
    for (const link of links) link.close();
  }

  send(nodeId: string, channel: DatagramChannel, payload: Uint8Array): boolean {
    return this.links.get(nodeId)?.sendDatagram(channel, payload) ?? false;
  }

  notify(nodeId: string, method: string, payload: Uint8Array): boolean {
    return this.links.get(nodeId)?.notify(method, payload) ?? false;
  }

  request(nodeId: string, method: string, payload: Uint8Array, timeoutMs: number): Promise<Buffer> {
    const link = this.links.get(nodeId);
    if (link === undefined) return Promise.reject(new SwarmRequestError('unreachable', `no connection to ${nodeId.slice(0, 12)}`));
    return link.request(method, payload, timeoutMs);
  }
}
