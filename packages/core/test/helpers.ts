import { startLocalCluster, type LocalCluster } from '../src/index.js';

export const FOO = 'foo@computer-name';
export const BAR = 'bar@computer-name';

/** The guide's pair: foo has a..m -> foo, n..z -> bar; bar has a..z -> bar. */
export function guidePair(): Promise<LocalCluster> {
  return startLocalCluster([
    {
      name: FOO,
      routingTable: [
        { from: 'a', to: 'm', node: FOO },
        { from: 'n', to: 'z', node: BAR },
      ],
    },
    { name: BAR, routingTable: [{ from: 'a', to: 'z', node: BAR }] },
  ]);
}
