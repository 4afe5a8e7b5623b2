// JSON Schema (draft 7, checked with ajv) for the Marathon app fields Corral understands. Other
// Marathon fields pass through untouched so existing app JSON is accepted.
const stringMap = { type: 'object', additionalProperties: { type: 'string' } } as const;

export const appSchema = {
  type: 'object',
  required: ['id'],
  properties: {
    id: { type: 'string', minLength: 1 },
    cmd: { type: ['string', 'null'] },
    args: { type: ['array', 'null'], items: { type: 'string' } },
    instances: { type: 'integer', minimum: 0 },
    cpus: { type: 'number', minimum: 0 },
    mem: { type: 'number', minimum: 0 },
    disk: { type: 'number', minimum: 0 },
    gpus: { type: 'integer', minimum: 0 },
    ports: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 65535 } },
    portDefinitions: {
      type: 'array',
      items: {
        type: 'object',
        required: ['port'],
        properties: {
          port: { type: 'integer', minimum: 0, maximum: 65535 },
          protocol: { enum: ['tcp', 'udp', 'udp,tcp'] },
          name: { type: 'string', pattern: '^[a-z][a-z0-9-]*$' },
          labels: stringMap,
        },
      },
    },
    requirePorts: { type: 'boolean' },
    env: {
      type: 'object',
      additionalProperties: { type: 'string' },
      propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
    },
    labels: stringMap,
    user: { type: ['string', 'null'] },
    backoffSeconds: { type: 'number', minimum: 0 },
    backoffFactor: { type: 'number', minimum: 1 },
    maxLaunchDelaySeconds: { type: 'number', minimum: 0 },
    killSelection: { enum: ['YOUNGEST_FIRST', 'OLDEST_FIRST'] },
    unreachableStrategy: {
      oneOf: [
        { const: 'disabled' },
        {
          type: 'object',
          required: ['inactiveAfterSeconds', 'expungeAfterSeconds'],
          properties: { inactiveAfterSeconds: { type: 'number', minimum: 0 }, expungeAfterSeconds: { type: 'number', minimum: 0 } },
          additionalProperties: false,
        },
      ],
    },
    // [field, operator, value?]; operators and values are checked in app.ts with Marathon's messages.
    constraints: { type: 'array', items: { type: 'array', items: { type: 'string' } } },
    taskKillGracePeriodSeconds: { type: ['number', 'null'], exclusiveMinimum: 0 },
    // Ratios 0..1 are checked in app.ts with Marathon's messages; deadlineSeconds is Corral's.
    upgradeStrategy: {
      type: 'object',
      properties: {
        minimumHealthCapacity: { type: 'number' },
        maximumOverCapacity: { type: 'number' },
        deadlineSeconds: { type: 'number', exclusiveMinimum: 0 },
      },
    },
    dependencies: { type: 'array', items: { type: 'string', minLength: 1 } },
    readinessChecks: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string', minLength: 1 },
          protocol: { enum: ['HTTP', 'HTTPS'] },
          path: { type: 'string' },
          portName: { type: 'string', minLength: 1 },
          intervalSeconds: { type: 'integer', minimum: 1 },
          timeoutSeconds: { type: 'integer', minimum: 1 },
          httpStatusCodesForReady: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 100, maximum: 599 } },
          preserveLastResponse: { type: 'boolean' },
        },
      },
    },
    // Times in whole seconds, as Marathon stores them. Rules between fields (a COMMAND needs a
    // command, portIndex within the ports, timeout < interval) are checked in app.ts.
    healthChecks: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          protocol: { enum: ['HTTP', 'HTTPS', 'TCP', 'COMMAND', 'MESOS_HTTP', 'MESOS_HTTPS', 'MESOS_TCP'] },
          path: { type: 'string' },
          portIndex: { type: 'integer', minimum: 0 },
          port: { type: 'integer', minimum: 0, maximum: 65535 },
          command: { type: 'object', required: ['value'], properties: { value: { type: 'string' } } },
          gracePeriodSeconds: { type: 'integer', minimum: 0 },
          intervalSeconds: { type: 'integer', minimum: 1 },
          // Marathon allows 0; a check given no time to answer can only fail.
          timeoutSeconds: { type: 'integer', minimum: 1 },
          maxConsecutiveFailures: { type: 'integer', minimum: 0 },
          delaySeconds: { type: 'integer', minimum: 0 },
          ignoreHttp1xx: { type: 'boolean' },
        },
      },
    },
  },
} as const;
