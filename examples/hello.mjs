import { connect } from 'felix-ts/client';
const client = await connect({ broker: process.argv[2] }); // default 127.0.0.1:5000, where `npm start` listens
await client.subscribe('greetings', { onEvent: (e) => { console.log(`received "${Buffer.from(e.payload)}" at offset ${e.offset}`); void client.close(); } });
await client.publish('greetings', 'hello, felix');
