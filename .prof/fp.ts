import { freePort } from '../test/helpers/net.js'
const ps: number[] = []
for (let i = 0; i < 200; i++) ps.push(await freePort())
console.log(Math.min(...ps), Math.max(...ps), ps.filter((p) => p > 55535).length)
