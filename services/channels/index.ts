export { channelsModule, channelsService } from './service';
